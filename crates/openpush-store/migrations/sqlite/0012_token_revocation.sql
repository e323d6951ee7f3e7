-- Token revocation. A token issued before one of these times (epoch milliseconds) is refused:
-- the app's tokens after `openpush app rotate-secret`, a user's tokens after a password change
-- or a revocation. 0 refuses none.
ALTER TABLE apps ADD COLUMN app_tokens_valid_from INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN tokens_valid_from INTEGER NOT NULL DEFAULT 0;
