"""debut.cds: the driver JVM maps Spark's classes from the set-up's archive when it exists."""
import os

from debut import cds


def test_java_options_name_the_archive_only_when_it_exists(tmp_path, monkeypatch):
    path = tmp_path / "spark-classes-x.jsa"
    monkeypatch.setattr(cds, "archive_path", lambda: str(path))
    monkeypatch.delenv(cds.ENV, raising=False)
    assert cds.java_options() == []
    path.write_bytes(b"archive")
    assert cds.java_options() == [f"-XX:SharedArchiveFile={path}"]
    monkeypatch.setenv(cds.ENV, "off")
    assert cds.java_options() == []


def test_archive_name_changes_with_the_jars(tmp_path, monkeypatch):
    import pyspark

    jars = tmp_path / "pyspark" / "jars"
    jars.mkdir(parents=True)
    (jars / "a.jar").write_bytes(b"1")
    monkeypatch.setattr(pyspark, "__file__", str(tmp_path / "pyspark" / "__init__.py"))
    first = cds.archive_path()
    assert cds.archive_path() == first
    (jars / "a.jar").write_bytes(b"12")   # a jar replaced by another build
    second = cds.archive_path()
    (jars / "b.jar").write_bytes(b"1")    # a jar added
    assert len({first, second, cds.archive_path()}) == 3


def test_the_suite_session_reads_the_archive_when_set_up_built_it(spark):
    opts = spark.sparkContext.getConf().get("spark.driver.extraJavaOptions", "") or ""
    if os.path.isfile(cds.archive_path()) and os.environ.get(cds.ENV, "") != "off":
        assert f"-XX:SharedArchiveFile={cds.archive_path()}" in opts
    else:
        assert "SharedArchiveFile" not in opts
