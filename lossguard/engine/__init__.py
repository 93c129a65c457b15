"""One parse, one walk: run the rules over a module, place and suppress what they report."""
