-- SPDX-License-Identifier: ISC
-- PEP (XEP-0163, sqlite): each account's nodes with their configuration, and their items in order.
CREATE TABLE pep_nodes (
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    max_items INTEGER NOT NULL DEFAULT 1,           -- -1: 'max' (the server's cap)
    access_model TEXT NOT NULL DEFAULT 'presence',  -- presence, open or whitelist
    persist_items INTEGER NOT NULL DEFAULT 1,       -- 0: only the last item is kept
    send_last TEXT NOT NULL DEFAULT 'on_sub_and_presence', -- never, on_sub, on_sub_and_presence
    PRIMARY KEY (host, username, node),
    FOREIGN KEY (host, username) REFERENCES users (host, username) ON DELETE CASCADE
);

CREATE TABLE pep_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, -- publication order
    host TEXT NOT NULL,
    username TEXT NOT NULL,
    node TEXT NOT NULL,
    item_id TEXT NOT NULL,
    payload TEXT NOT NULL,                          -- the item's one child, serialized
    UNIQUE (host, username, node, item_id),
    FOREIGN KEY (host, username, node) REFERENCES pep_nodes (host, username, node)
        ON DELETE CASCADE
);
CREATE INDEX pep_items_node ON pep_items (host, username, node, seq);
