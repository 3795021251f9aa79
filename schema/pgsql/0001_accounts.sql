-- SPDX-License-Identifier: ISC
-- Accounts (PostgreSQL): users and their SCRAM keys, keyed first by (host, username).
-- Text columns use the "C" collation: byte order, as in SQLite, whatever the database locale.
CREATE TABLE users (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL, -- seconds since the epoch
    PRIMARY KEY (host, username)
);

-- Passwords exist only as SCRAM keys (RFC 5802), one row per hash, base64 text.
CREATE TABLE scram_keys (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    hash TEXT COLLATE "C" NOT NULL CHECK (hash IN ('SHA-1', 'SHA-256', 'SHA-512')),
    iterations INTEGER NOT NULL CHECK (iterations > 0),
    salt TEXT NOT NULL,
    stored_key TEXT NOT NULL,
    server_key TEXT NOT NULL,
    PRIMARY KEY (host, username, hash),
    FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
);
