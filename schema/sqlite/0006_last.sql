-- SPDX-License-Identifier: ISC
-- Last Activity (XEP-0012, sqlite): when each user's last session ended, and its status text.
CREATE TABLE last_activity (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    logout_at INTEGER NOT NULL, -- seconds since the epoch
    status TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
);
