import pytest

from portal import crypto


def test_round_trip_and_ciphertext_hides_the_value(settings):
    settings.FIELD_ENCRYPTION_KEY = "a long operator passphrase"
    crypto._cipher.cache_clear()
    token = crypto.encrypt("client-secret-123")
    assert "client-secret-123" not in token
    assert crypto.decrypt(token) == "client-secret-123"


def test_key_rotation_keeps_old_values_readable(settings):
    settings.FIELD_ENCRYPTION_KEY = "old key"
    old = crypto.encrypt("s3cret")
    settings.FIELD_ENCRYPTION_KEY = "new key,old key"
    assert crypto.decrypt(old) == "s3cret"
    settings.FIELD_ENCRYPTION_KEY = "unrelated key"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        crypto.decrypt(old)
