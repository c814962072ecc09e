from cnnbook.book.notice import needs_network


def test_a_network_notice_says_what_is_missing_and_what_the_cell_shows_with_it():
    notice = needs_network("torchvision's ImageNet weights for resnet50", "its test accuracy after fine-tuning")
    page = notice._repr_html_()
    assert 'class="admonition note"' in page and "resnet50" in page and "fine-tuning" in page
    assert "Errno" not in page and "Needs the network" in repr(notice)


def test_a_notice_escapes_its_text():
    assert "&lt;b&gt;" in needs_network("<b>", "x")._repr_html_()
