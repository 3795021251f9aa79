-- SPDX-License-Identifier: ISC
-- Blocking command (XEP-0191, sqlite): each user's blocked JIDs, prepared, keyed by (host, username).
CREATE TABLE blocklist (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    jid TEXT NOT NULL,
    PRIMARY KEY (host, username, jid),
    FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
);
