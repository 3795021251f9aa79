-- SPDX-License-Identifier: ISC
-- Blocking command (XEP-0191, pgsql): each user's blocked JIDs, prepared, keyed by (host, username).
CREATE TABLE blocklist (
    host TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    jid TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (host, username, jid),
    FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
);
