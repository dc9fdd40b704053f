from services.tenancy.domain import api_keys


def test_generated_keys_parse_and_match_only_themselves():
    first, second = api_keys.generate(), api_keys.generate()
    assert first.secret.startswith(f"tmb_{first.prefix}_")
    assert api_keys.parse_prefix(first.secret) == first.prefix
    assert api_keys.matches(first.secret, first.hash)
    assert not api_keys.matches(second.secret, first.hash)
    assert first.secret not in first.hash and len(first.hash) == 64
    assert first.prefix != second.prefix


def test_malformed_keys_have_no_prefix():
    key = api_keys.generate().secret
    for bad in ("", "tmb_", key[:-1], key + "x", key.replace("tmb_", "tmx_"), "Bearer " + key):
        assert api_keys.parse_prefix(bad) is None
