-- SPDX-License-Identifier: ISC
-- Accounts (SQLite): users and their SCRAM keys, keyed first by (host, username).
CREATE TABLE users (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    created_at INTEGER NOT NULL, -- seconds since the epoch
    PRIMARY KEY (host, username)
);

-- Passwords exist only as SCRAM keys (RFC 5802), one row per hash, base64 text.
CREATE TABLE scram_keys (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    hash TEXT NOT NULL CHECK (hash IN ('SHA-1', 'SHA-256', 'SHA-512')),
    iterations INTEGER NOT NULL CHECK (iterations > 0),
    salt TEXT NOT NULL,
    stored_key TEXT NOT NULL,
    server_key TEXT NOT NULL,
    PRIMARY KEY (host, username, hash),
    FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
);
