

def test_a_dangling_link_under_data_exits_2_naming_it_before_any_work(tmp_path, capsys):
    import os

    import images
    from bit_tfx.cli import common
    images.class_folders(str(tmp_path / "data"), ["a", "b"], 2)
    os.symlink(str(tmp_path / "moved.jpg"), str(tmp_path / "data" / "a" / "link.jpg"))
    code = cli.main(["hyperrule", "--data", str(tmp_path / "data"), "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == common.EXIT_CONFIG and "dangling symbolic link" in err and "a/link.jpg" in err
    assert not (tmp_path / "out" / "pipeline_root").exists()
