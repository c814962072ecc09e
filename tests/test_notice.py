from cnnbook.book.notice import needs_network


def test_a_network_notice_says_what_is_missing_and_what_the_cell_shows_with_it():
    notice = needs_network("torchvision's ImageNet weights for resnet50", "its test accuracy after fine-tuning")
    page = notice._repr_html_()
    assert 'class="admonition note"' in page and "resnet50" in page and "fine-tuning" in page
    assert "Errno" not in page and "Needs the network" in repr(notice)


def test_a_notice_escapes_its_text():
    assert "&lt;b&gt;" in needs_network("<b>", "x")._repr_html_()


def test_provenance_folds_machine_minutes_and_code_version_into_one_line():
    from cnnbook.book.notice import Provenance

    about = {"device_name": "AMD EPYC", "device": "cpu", "precision": "fp32", "threads": 1, "wall_minutes": 29.14}
    p = Provenance(about | {"budget": "quick", "torch": "2.14.1", "git_commit": "dc4ee00abc"})
    page = p._repr_html_()
    assert page.startswith("<details") and "AMD EPYC" in page and "29.1 min" in page and "dc4ee00" in page
    assert "dc4ee00abc" not in page
