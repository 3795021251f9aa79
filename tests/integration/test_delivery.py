# SPDX-License-Identifier: ISC
# RFC 6121 §8.5 message delivery rules, table-driven: every (address form, type, resources) case.
#
# Each row of CASES names a recipient account with resources of given priorities, an address
# form, a message type and what must happen: which resources get the message (exactly, with
# nothing else before it), whether the sender gets a <service-unavailable/> bounce, whether it
# is stored offline. Nothing arriving is proven with barriers, not sleeps: after the message
# the sender routes a marker message to every resource's full JID (always delivered, RFC 6121
# §8.5.3.1, and after the message since one session's stanzas are handled in order) and a ping
# to the server; each client reads up to its marker or the ping result.
#
# Every row runs on two servers: one with the offline module and one without, since what happens
# to a chat/normal message with no available resource depends on offline storage.

import xml.etree.ElementTree as ET

import harness
from harness import PASSWORD, unique
from rawxmpp import NS_CLIENT, NS_STANZAS, q, to_string, xml_escape

SRV = None    # with offline storage
PLAIN = None  # without it
NS_PING = 'urn:xmpp:ping'

# what happens to chat/normal when no resource may take it (RFC 6121 §8.5.2.2.1: store it,
# silently ignore it or bounce it: Starling stores it when the offline module is loaded and
# bounces it with <service-unavailable/> otherwise)
OFFLINE = 'offline'
# a <service-unavailable/> stanza error back to the sender
BOUNCE = 'bounce'
# nothing at all, to anyone
IGNORED = 'ignored'

# Resource priorities of the recipient: an int is an available resource with that priority,
# None a resource that is bound (connected) but sent no presence.
NONE = ()
CONNECTED = (None,)
ONE_ZERO = (0,)
ONE_POS = (7,)
ONE_NEG = (-1,)
ALL_NEG = (-1, -5)
EQUAL_TOP = (3, 3, 1)
DIFFERENT = (1, 5, 2)
MIXED = (2, -1, 0, None)
ZEROS_NEG = (0, 0, -3)


def top(prios):
    """Indexes of the available non-negative resources of the highest priority."""
    avail = [p for p in prios if p is not None and p >= 0]
    if not avail:
        return None
    return {i for i, p in enumerate(prios) if p == max(avail)}


def non_negative(prios):
    return {i for i, p in enumerate(prios) if p is not None and p >= 0}


def bare_rule(mtype, prios):
    """RFC 6121 §8.5.2 for a message to the bare JID of an existing account."""
    if mtype in ('chat', 'normal', None):
        # §8.5.2.1.1: one non-negative resource: to it; several: MUST deliver to the "most
        # available" resource(s) or to all non-negative ones. Starling: every resource of the
        # highest priority (all of them when several share it). Negative priorities never
        # (§8.5.2.1.1 "MUST NOT deliver ... negative priority"; with only those it is handled as
        # if none were available, a SHOULD that Starling follows). A bound resource without
        # presence is not available and counts as absent (§8.5.2.2: "no available resources").
        t = top(prios)
        return (t, None) if t else (set(), OFFLINE)
    if mtype == 'headline':
        # §8.5.2.1.1: all non-negative resources (MUST); none: silently ignored (§8.5.2.2.1 MUST;
        # with only negative ones a SHOULD). Never stored (a <store/> hint, XEP-0334, would).
        return non_negative(prios), None if non_negative(prios) else IGNORED
    if mtype == 'groupchat':
        # §8.5.2.1.1: MUST NOT deliver, MUST return an error (SHOULD be service-unavailable);
        # §8.5.2.2.1 the same without resources
        return set(), BOUNCE
    if mtype == 'error':
        # §8.5.2.1.1 and §8.5.2.2.1: MUST silently ignore
        return set(), IGNORED
    raise ValueError(mtype)


def full_rule(mtype, prios, index):
    """RFC 6121 §8.5.3 for a message to a full JID of an existing account: index is the
    resource it names, or None for a resource that is not there."""
    if index is not None:
        # §8.5.3.1: MUST deliver to that resource, whatever the type and priority (also a
        # negative one, also one that sent no presence)
        return {index}, None
    if mtype == 'chat':
        # §8.5.3.2.1: handled as if to the bare JID (§8.5.2)
        return bare_rule('chat', prios)
    if mtype in ('normal', None, 'groupchat'):
        # §8.5.3.2.1: MUST silently ignore or return an error (SHOULD be service-unavailable);
        # Starling bounces, so the sender learns that the resource is gone. A message without
        # a type is "normal" (RFC 6121 §5.2.2).
        return set(), BOUNCE
    # headline, error: §8.5.3.2.1 MUST silently ignore (error) / ignore or bounce (headline);
    # Starling ignores a headline: nobody asked for it
    return set(), IGNORED


TYPES = ('chat', 'normal', None, 'headline', 'groupchat', 'error')
CONFIGS = (('none', NONE), ('connected', CONNECTED), ('one_zero', ONE_ZERO),
           ('one_pos', ONE_POS), ('one_neg', ONE_NEG), ('all_neg', ALL_NEG),
           ('equal_top', EQUAL_TOP), ('different', DIFFERENT), ('mixed', MIXED),
           ('zeros_neg', ZEROS_NEG))


def build_cases():
    """(name, prios, address, mtype, expected receivers, outcome); address is 'bare', an int
    (the resource of that index) or 'gone' (a resource that does not exist)."""
    cases = []
    for mtype in TYPES:
        tname = mtype or 'notype'
        for cname, prios in CONFIGS:
            cases.append(('bare_%s_%s' % (tname, cname), prios, 'bare', mtype)
                         + bare_rule(mtype, prios))
            cases.append(('gone_%s_%s' % (tname, cname), prios, 'gone', mtype)
                         + full_rule(mtype, prios, None))
        # a matching resource: each kind of resource once (positive, lower, negative, silent)
        for cname, prios, index in (('top', MIXED, 0), ('zero', MIXED, 2),
                                    ('negative', MIXED, 1), ('connected', MIXED, 3)):
            cases.append(('full_%s_%s' % (tname, cname), prios, index, mtype)
                         + full_rule(mtype, prios, index))
    return cases


CASES = build_cases()

# §8.5.1: no such account. Messages: MUST silently ignore or bounce; Starling bounces every type
# but error (never an error to an error, RFC 6120 §8.3.1) and a headline to a full JID (ignored
# before the account is looked up, as for any missing resource: §8.5.3.2.1).
NO_ACCOUNT = [(mtype, form) for mtype in TYPES for form in ('bare', 'full')]


def no_account_rule(mtype, form):
    return IGNORED if mtype == 'error' or (mtype == 'headline' and form == 'full') else BOUNCE


def setUpModule():
    global SRV, PLAIN
    SRV = harness.module_server('delivery', accounts={'alice': PASSWORD},
                                modules={'disco': {}, 'ping': {}, 'offline': {}})
    try:
        PLAIN = harness.module_server('delivery-plain', accounts={'alice': PASSWORD},
                                      modules={'disco': {}, 'ping': {}})
    except BaseException:
        harness.module_teardown(SRV)
        raise


def tearDownModule():
    try:
        harness.module_teardown(PLAIN)
    finally:
        harness.module_teardown(SRV)


# ---- exact comparison of stanzas ----

def canon(el):
    """A comparable form of an element: name, attributes, text and children, recursively; texts
    that are only whitespace between elements do not count."""
    text = el.text or ''
    kids = list(el)
    if kids and not text.strip():
        text = ''
    return (el.tag, tuple(sorted(el.attrib.items())), text,
            tuple((canon(k), (k.tail or '') if (k.tail or '').strip() else '') for k in kids))


def parse(xml):
    return ET.fromstring(xml)


def message_xml(mtype, to, frm, mid, body, extra=''):
    return ("<message xmlns='jabber:client'%s to='%s' from='%s' id='%s'><body>%s</body>%s"
            "</message>" % (" type='%s'" % mtype if mtype else '', xml_escape(to),
                            xml_escape(frm), mid, xml_escape(body), extra))


ERROR_PAYLOAD = ("<error type='cancel'><item-not-found xmlns='%s'/></error>" % NS_STANZAS)


def bounce_xml(sent_xml, to, frm):
    """What the sender gets back: its message with type error, addresses swapped, and the
    <service-unavailable/> condition appended (RFC 6120 §8.3.1)."""
    el = parse(sent_xml)
    el.set('type', 'error')
    el.set('to', to)
    el.set('from', frm)
    err = ET.SubElement(el, q(NS_CLIENT, 'error'), {'type': 'cancel'})
    ET.SubElement(err, q(NS_STANZAS, 'service-unavailable'))
    return el


class Delivery(harness.TestCase):
    """One test per row of CASES and server (with and without offline storage)."""

    def setUp(self):
        super().setUp()
        self.clients = []

    def tearDown(self):
        for c, srv in self.clients:
            jid = c.jid
            try:
                if not c.closed and c.sock is not None:
                    c.send('</stream:stream>')
            except OSError:
                pass
            c.close()
            if srv.alive() and jid is not None:
                srv.wait_disconnected(jid)
        super().tearDown()

    def connect(self, srv, user, resource, priority):
        c = srv.login(user, resource=resource, presence=priority is not None, priority=priority)
        self.clients.append((c, srv))
        return c

    def barrier(self, sender, receivers, srv):
        """Routes a marker to every receiver and a ping to the server; returns what each
        client (sender first) got before its marker or the ping result."""
        marks = []
        for r in receivers:
            mid = unique('mark')
            sender.send("<message to='%s' type='chat' id='%s'><body>mark</body></message>"
                        % (xml_escape(r.jid), mid))
            marks.append(mid)
        pid = unique('ping')
        sender.send("<iq type='get' id='%s' to='localhost'><ping xmlns='%s'/></iq>"
                    % (pid, NS_PING))
        got = []

        def upto(c, pred):
            before = []
            while True:
                el = c.recv(timeout=10)
                if pred(el):
                    return before
                before.append(el)
        got.append(upto(sender, lambda e: e.tag == q(NS_CLIENT, 'iq') and e.get('id') == pid))
        for r, mid in zip(receivers, marks):
            got.append(upto(r, lambda e, mid=mid: e.tag == q(NS_CLIENT, 'message') and
                            e.get('id') == mid))
        return got

    def run_case(self, srv, prios, address, mtype, receivers, outcome):
        user = unique('dl').lower()
        srv.register(user)
        bare = '%s@localhost' % user
        res = [self.connect(srv, user, 'r%d' % i, p) for i, p in enumerate(prios)]
        alice = self.connect(srv, 'alice', unique('a'), 0)
        if address == 'bare':
            to = bare
        elif address == 'gone':
            to = bare + '/gone'
        else:
            to = res[address].jid
        mid = unique('m')
        body = 'rule %s → %s <&> "q"' % (mtype, address)
        extra = ERROR_PAYLOAD if mtype == 'error' else ''
        alice.send(message_xml(mtype, to, 'ignored', mid, body, extra)
                   .replace(" xmlns='jabber:client'", '').replace(" from='ignored'", ''))
        got = self.barrier(alice, res, srv)
        delivered = parse(message_xml(mtype, to, alice.jid, mid, body, extra))
        if outcome == OFFLINE:
            outcome = OFFLINE if srv is SRV else BOUNCE
        # the sender: a bounce or nothing
        if outcome == BOUNCE:
            sent = message_xml(mtype, to, alice.jid, mid, body, extra)
            self.assertEqual([canon(e) for e in got[0]], [canon(bounce_xml(sent, alice.jid, to))],
                             [to_string(e) for e in got[0]])
        else:
            self.assertEqual([to_string(e) for e in got[0]], [], 'the sender got something')
        # each resource: the message exactly, or nothing
        for i, before in enumerate(got[1:]):
            want = [canon(delivered)] if i in receivers else []
            self.assertEqual([canon(e) for e in before], want,
                             'resource r%d (priority %r): %s' % (i, prios[i],
                                                                [to_string(e) for e in before]))
        rows = srv.db_rows("SELECT stanza FROM offline_messages WHERE host = 'localhost' AND "
                           "username = '%s'" % user) if srv is SRV else []
        if outcome == OFFLINE:
            self.assertEqual(len(rows), 1, rows)
            self.assertIn("id='%s'" % mid, rows[0][0])
        else:
            self.assertEqual(rows, [])


def _make(case, server_name):
    name, prios, address, mtype, receivers, outcome = case

    def test(self):
        srv = SRV if server_name == 'offline' else PLAIN
        self.run_case(srv, prios, address, mtype, receivers, outcome)
    test.__doc__ = '%s on the server %s offline storage: %s to %r, resources %r' % (
        name, 'with' if server_name == 'offline' else 'without', mtype or 'no type', address,
        prios)
    return test


for _case in CASES:
    for _srv in ('offline', 'plain'):
        setattr(Delivery, 'test_%s_%s' % (_case[0], _srv), _make(_case, _srv))


class NoSuchAccount(harness.TestCase):
    """§8.5.1: the account does not exist."""

    def test_messages(self):
        for srv in (SRV, PLAIN):
            alice = self.login('alice', srv=srv)
            for mtype, form in NO_ACCOUNT:
                with self.subTest(server=srv.name, type=mtype, form=form):
                    to = 'nobody-%s@localhost' % unique('x').lower()
                    if form == 'full':
                        to += '/res'
                    mid = unique('m')
                    extra = ERROR_PAYLOAD if mtype == 'error' else ''
                    sent = message_xml(mtype, to, alice.jid, mid, 'anyone?', extra)
                    alice.send(message_xml(mtype, to, 'x', mid, 'anyone?', extra)
                               .replace(" xmlns='jabber:client'", '')
                               .replace(" from='x'", ''))
                    got = Delivery.barrier(self, alice, [], srv)[0]
                    want = ([] if no_account_rule(mtype, form) == IGNORED
                            else [canon(bounce_xml(sent, alice.jid, to))])
                    self.assertEqual([canon(e) for e in got], want,
                                     [to_string(e) for e in got])

    def test_presence_and_iq(self):
        # presence: MUST silently ignore; iq: MUST return service-unavailable
        alice = self.login('alice')
        alice.send("<presence to='nobody@localhost'/>")
        alice.send("<presence to='nobody@localhost/r' type='unavailable'/>")
        el = alice.iq('get', "<query xmlns='urn:example:q'/>", to='nobody@localhost')
        self.assertStanzaError(el, 'iq', 'cancel', 'service-unavailable', frm='nobody@localhost',
                               to=alice.jid)
        self.assertEqual([to_string(e) for e in Delivery.barrier(self, alice, [], SRV)[0]], [])


class ToRewrite(harness.TestCase):
    """§8.5.2.1.1 "In all cases, the server MUST NOT rewrite the 'to' attribute": a message to
    the bare JID arrives addressed to the bare JID at every resource (checked by the exact
    comparison of every row); here also with a message that has no 'to' at all (RFC 6120
    §10.3.1: for the sender's own bare JID), which reaches the sender's other resources."""

    def test_no_to(self):
        user = unique('self').lower()
        SRV.register(user)
        a = self.login(user, priority=1)
        b = self.login(user, priority=1)
        c = self.login(user, priority=-1)
        mid = unique('m')
        a.send("<message type='chat' id='%s'><body>note to self</body></message>" % mid)
        want = canon(parse(message_xml('chat', '%s@localhost' % user, a.jid, mid,
                                       'note to self')))
        self.assertEqual(canon(a.recv_message()), want)
        self.assertEqual(canon(b.recv_message()), want)
        self.assertEqual(Delivery.barrier(self, a, [c], SRV)[1], [])
