from wordstats import tokenize


def test_lower_cases_and_drops_punctuation():
    assert tokenize("Hello, World! Hello.") == ["hello", "world", "hello"]


def test_inner_apostrophes_stay():
    assert tokenize("Don't panic -- it's 'fine'") == ["don't", "panic", "it's", "fine"]


def test_digits_and_underscores():
    assert tokenize("route_66 in 1926") == ["route", "66", "in", "1926"]


def test_unicode_letters():
    assert tokenize("Größe über ÉTÉ") == ["größe", "über", "été"]
