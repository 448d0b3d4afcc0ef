"""adjust_launch: update launched items' demand from early sales; reorder / markdown / delist / breakout."""
