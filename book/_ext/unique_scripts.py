"""Sphinx extension: each page loads every script once.

sphinx-thebe's configuration snippet (``const THEBE_JS_URL = ...``) reaches a Jupyter Book page
twice, once with the file name ``None`` and once with ``""``, so Sphinx does not see the
duplicate; the repeated ``const`` then throws "Identifier has already been declared" in the
browser. This drops repeated scripts (same file or same inline body, same attributes).
"""


def _unique_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})  # priority aside: the same tag is the same script
        filename = getattr(script, "filename", script) or ""  # inline scripts come as None or ""
        key = (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique


def setup(app):
    # Early: Sphinx stops calling html-page-context handlers at the first that returns a template.
    app.connect("html-page-context", _unique_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
