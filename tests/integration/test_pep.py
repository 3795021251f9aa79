# SPDX-License-Identifier: ISC
# PEP (XEP-0163): publish/notify by presence subscription and caps +notify, access models,
# publish-options preconditions, items, retract, last item at login, disco, delete, limits.

import base64
import hashlib

import harness
from harness import PASSWORD, unique
import rawxmpp
from rawxmpp import NS_CLIENT, q, to_string

SRV = None
NS_DISCO = 'http://jabber.org/protocol/disco#info'
NS_ITEMS = 'http://jabber.org/protocol/disco#items'
NS_CAPS = 'http://jabber.org/protocol/caps'
NS_PUBSUB = 'http://jabber.org/protocol/pubsub'
NS_OWNER = NS_PUBSUB + '#owner'
NS_EVENT = NS_PUBSUB + '#event'
NS_ERRORS = NS_PUBSUB + '#errors'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
NODE_META = 'urn:xmpp:avatar:metadata'
NODE_DATA = 'urn:xmpp:avatar:data'
NODE_OMEMO = 'eu.siacs.conversations.axolotl.devicelist'
NODE_BOOKMARKS = 'urn:xmpp:bookmarks:1'
CAPS_NODE = 'https://starling.example/itest-pep'


def setUpModule():
    global SRV
    SRV = harness.module_server(
        'pep', accounts={u: PASSWORD for u in ('chat-a', 'chat-b')},
        modules={'disco': {}, 'roster': {}, 'caps': {},
                 'pep': {'max_payload_size': '4k', 'max_items': 100, 'max_nodes': 20}})


def tearDownModule():
    harness.module_teardown(SRV)


def new_user(prefix):
    u = unique(prefix)
    SRV.register(u)
    return u


def befriend(a, b):
    """Mutual presence subscription (both) between a and b."""
    SRV.ctl_ok('add_rosteritem', a, 'localhost', b, 'localhost', '', '', 'both')
    SRV.ctl_ok('add_rosteritem', b, 'localhost', a, 'localhost', '', '', 'both')


def ver_of(feats):
    s = 'client/pc//Itest<' + ''.join('%s<' % f for f in sorted(feats))
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


def is_disco_query(el):
    return (el.tag == q(NS_CLIENT, 'iq') and el.get('type') == 'get'
            and el.find(q(NS_DISCO, 'query')) is not None)


def is_event(el, node=None):
    if el.tag != q(NS_CLIENT, 'message'):
        return False
    ev = el.find(q(NS_EVENT, 'event'))
    if ev is None:
        return False
    return node is None or any(c.get('node') == node for c in ev)


def publish_xml(node, payload, item_id=None, options=None):
    opts = ''
    if options is not None:
        opts = ("<publish-options><x xmlns='jabber:x:data' type='submit'>"
                "<field var='FORM_TYPE' type='hidden'><value>%s#publish-options</value></field>"
                % NS_PUBSUB)
        opts += ''.join("<field var='pubsub#%s'><value>%s</value></field>" % kv
                        for kv in options)
        opts += "</x></publish-options>"
    idattr = " id='%s'" % item_id if item_id is not None else ''
    return ("<pubsub xmlns='%s'><publish node='%s'><item%s>%s</item></publish>%s</pubsub>"
            % (NS_PUBSUB, node, idattr, payload, opts))


def keep_sync(c):
    """A round trip like c.sync() that keeps what arrives before the answer (last items)."""
    iid = c.next_id('sync')
    c.send("<iq type='get' id='%s' to='localhost'><query xmlns='urn:starling:itest:sync'/></iq>"
           % iid)
    c.recv_match(lambda e: e.tag == q(NS_CLIENT, 'iq') and e.get('id') == iid, skip=False)


class Pep(harness.TestCase):
    def caps_login(self, user, nodes, **kw):
        """A session whose caps ask for node+notify of each of nodes."""
        c = self.login(user, presence=False, **kw)
        feats = sorted([NS_DISCO, NS_CAPS, 'urn:itest:%s' % unique('f')]
                       + ['%s+notify' % n for n in nodes])
        ver = ver_of(feats)
        c.send("<presence><c xmlns='%s' hash='sha-1' node='%s' ver='%s'/></presence>"
               % (NS_CAPS, CAPS_NODE, ver))
        iq = c.recv_match(is_disco_query)
        body = "<identity category='client' type='pc' name='Itest'/>"
        body += ''.join("<feature var='%s'/>" % f for f in feats)
        c.send("<iq type='result' id='%s' to='localhost'><query xmlns='%s' node='%s#%s'>%s"
               "</query></iq>" % (iq.get('id'), NS_DISCO, CAPS_NODE, ver, body))
        keep_sync(c)
        return c

    def assertPubsubError(self, el, etype, cond, app=None):
        self.assertEqual(el.get('type'), 'error', to_string(el))
        err = el.find(q(NS_CLIENT, 'error'))
        self.assertIsNotNone(err, to_string(el))
        self.assertEqual(err.get('type'), etype, to_string(el))
        kids = sorted(c.tag for c in err if c.tag != q(NS_STANZAS, 'text'))
        want = [q(NS_STANZAS, cond)] + ([q(NS_ERRORS, app)] if app else [])
        self.assertEqual(kids, sorted(want), to_string(el))

    def publish(self, c, node, payload, item_id=None, options=None, to=None):
        r = c.iq('set', publish_xml(node, payload, item_id, options), to=to)
        self.assertResult(r)
        pub = r.find(q(NS_PUBSUB, 'pubsub')).find(q(NS_PUBSUB, 'publish'))
        self.assertEqual(pub.get('node'), node)
        item = pub.find(q(NS_PUBSUB, 'item'))
        self.assertEqual(len(pub), 1)
        if item_id is not None:
            self.assertEqual(item.get('id'), item_id)
        self.assertTrue(item.get('id'))
        return item.get('id')

    def items(self, c, owner, node, extra='', attrs=''):
        return c.iq('get', "<pubsub xmlns='%s'><items node='%s'%s>%s</items></pubsub>"
                    % (NS_PUBSUB, node, attrs, extra), to=owner)

    def item_ids(self, r):
        self.assertResult(r)
        items = r.find(q(NS_PUBSUB, 'pubsub')).find(q(NS_PUBSUB, 'items'))
        return [i.get('id') for i in items]

    def expect_event(self, c, owner, node, timeout=5):
        el = c.recv_match(lambda e: is_event(e, node), timeout=timeout)
        self.assertEqual(el.get('from'), '%s@localhost' % owner, to_string(el))
        self.assertEqual(el.get('to'), c.jid, to_string(el))
        self.assertEqual(el.get('type'), 'headline', to_string(el))
        return el.find(q(NS_EVENT, 'event'))

    def expect_no_event(self, c, timeout=0.7):
        c.sync()
        try:
            el = c.recv_match(is_event, timeout=timeout)
        except rawxmpp.Timeout:
            return
        self.fail('unexpected notification: %s' % to_string(el))

    def test_avatar_notifications_by_subscription_and_interest(self):
        owner, fan, stranger, deaf = (new_user(p) for p in ('ava', 'fan', 'str', 'deaf'))
        befriend(owner, fan)
        befriend(owner, deaf)
        o = self.caps_login(owner, [NODE_META])
        f = self.caps_login(fan, [NODE_META])
        s = self.caps_login(stranger, [NODE_META])
        d = self.caps_login(deaf, ['urn:xmpp:other'])
        data = base64.b64encode(b'\x89PNG fake image').decode()
        sha = hashlib.sha1(b'\x89PNG fake image').hexdigest()
        self.publish(o, NODE_DATA, "<data xmlns='%s'>%s</data>" % (NODE_DATA, data), sha)
        meta = ("<metadata xmlns='%s'><info bytes='15' id='%s' type='image/png'/></metadata>"
                % (NODE_META, sha))
        self.publish(o, NODE_META, meta, sha)
        for c in (f, o):
            ev = self.expect_event(c, owner, NODE_META)
            self.assertEqual(
                to_string(ev),
                to_string(rawxmpp.ET.fromstring(
                    "<event xmlns='%s'><items node='%s'><item id='%s'>%s</item></items></event>"
                    % (NS_EVENT, NODE_META, sha, meta))))
        # nobody asked for +notify of the data node; the stranger and the deaf hear nothing
        for c in (f, o, s, d):
            self.expect_no_event(c)
        # the contact may read the data; the stranger may not (access presence)
        r = self.items(f, '%s@localhost' % owner, NODE_DATA)
        self.assertEqual(self.item_ids(r), [sha])
        got = r.find(q(NS_PUBSUB, 'pubsub')).find(q(NS_PUBSUB, 'items'))[0][0]
        self.assertEqual((got.tag, got.text), (q(NODE_DATA, 'data'), data))
        self.assertPubsubError(self.items(s, '%s@localhost' % owner, NODE_DATA), 'auth',
                               'not-authorized', 'presence-subscription-required')
        self.assertPubsubError(self.items(s, '%s@localhost' % owner, 'urn:nothing'), 'cancel',
                               'item-not-found')
        # nobody but the owner publishes
        r = s.iq('set', publish_xml(NODE_META, meta), to='%s@localhost' % owner)
        self.assertStanzaError(r, 'iq', 'auth', 'forbidden')
        self.assertEqual(SRV.db_rows(
            "SELECT node, item_id FROM pep_items WHERE username = '%s' ORDER BY node" % owner),
            [(NODE_DATA, sha), (NODE_META, sha)])

    def test_omemo_devicelist_open(self):
        owner, stranger = new_user('omemo'), new_user('str')
        o = self.login(owner)
        s = self.login(stranger)
        dl = ("<list xmlns='eu.siacs.conversations.axolotl'><device id='12345'/>"
              "<device id='4223'/></list>")
        self.publish(o, NODE_OMEMO, dl, 'current', options=[('access_model', 'open')])
        r = self.items(s, '%s@localhost' % owner, NODE_OMEMO)
        self.assertEqual(self.item_ids(r), ['current'])
        lst = r.find(q(NS_PUBSUB, 'pubsub')).find(q(NS_PUBSUB, 'items'))[0][0]
        self.assertEqual([d.get('id') for d in lst], ['12345', '4223'])
        # republishing the same id replaces the item (max_items 1 by default)
        self.publish(o, NODE_OMEMO, "<list xmlns='eu.siacs.conversations.axolotl'/>", 'current')
        r = self.items(s, '%s@localhost' % owner, NODE_OMEMO)
        self.assertEqual(self.item_ids(r), ['current'])
        self.assertEqual(len(r.find(q(NS_PUBSUB, 'pubsub')).find(q(NS_PUBSUB, 'items'))[0][0]),
                         0)
        self.assertEqual(SRV.db_rows(
            "SELECT max_items, access_model, persist_items, send_last FROM pep_nodes "
            "WHERE username = '%s'" % owner), [('1', 'open', '1', 'on_sub_and_presence')])
        # an account's nodes and items go with it
        o.close()
        SRV.ctl_ok('unregister', owner, 'localhost')
        self.assertEqual(SRV.db_rows(
            "SELECT (SELECT COUNT(*) FROM pep_nodes WHERE username = '%s'), "
            "(SELECT COUNT(*) FROM pep_items WHERE username = '%s')" % (owner, owner)),
            [('0', '0')])

    def test_bookmarks_publish_options(self):
        owner, friend = new_user('bm'), new_user('fr')
        befriend(owner, friend)
        o = self.login(owner)
        f = self.login(friend)
        opts = [('persist_items', 'true'), ('max_items', 'max'),
                ('send_last_published_item', 'never'), ('access_model', 'whitelist')]
        conf = ("<conference xmlns='%s' name='Room %%d' autojoin='true'><nick>me</nick>"
                "</conference>" % NODE_BOOKMARKS)
        self.publish(o, NODE_BOOKMARKS, conf % 1, 'r1@muc.example', options=opts)
        self.publish(o, NODE_BOOKMARKS, conf % 2, 'r2@muc.example', options=opts)
        self.assertEqual(sorted(self.item_ids(self.items(o, None, NODE_BOOKMARKS))),
                         ['r1@muc.example', 'r2@muc.example'])
        self.assertPubsubError(self.items(f, '%s@localhost' % owner, NODE_BOOKMARKS), 'cancel',
                               'not-allowed', 'closed-node')
        # options that do not match the node: XEP-0060 §7.1.5
        r = o.iq('set', publish_xml(NODE_BOOKMARKS, conf % 3, 'r3@muc.example',
                                    [('access_model', 'presence')]))
        self.assertPubsubError(r, 'cancel', 'conflict', 'precondition-not-met')
        r = o.iq('set', publish_xml(NODE_BOOKMARKS, conf % 3, 'r3@muc.example',
                                    [('max_items', '10')]))
        self.assertPubsubError(r, 'cancel', 'conflict', 'precondition-not-met')
        r = o.iq('set', publish_xml(NODE_BOOKMARKS, conf % 3, 'r3@muc.example',
                                    [('pubsub#title', 'x')]))
        self.assertPubsubError(r, 'cancel', 'conflict', 'precondition-not-met')
        # malformed forms
        r = o.iq('set', publish_xml(NODE_BOOKMARKS, conf % 3, 'r3@muc.example',
                                    [('max_items', 'lots')]))
        self.assertPubsubError(r, 'modify', 'bad-request', 'invalid-options')
        r = o.iq('set', "<pubsub xmlns='%s'><publish node='%s'><item>%s</item></publish>"
                 "<publish-options><x xmlns='jabber:x:data' type='submit'>"
                 "<field var='pubsub#access_model'><value>open</value></field></x>"
                 "</publish-options></pubsub>" % (NS_PUBSUB, NODE_BOOKMARKS, conf % 4))
        self.assertPubsubError(r, 'modify', 'bad-request', 'invalid-options')
        r = o.iq('set', publish_xml(NODE_BOOKMARKS, conf % 3, 'r3@muc.example',
                                    [('access_model', 'authorize')]))
        self.assertPubsubError(r, 'cancel', 'feature-not-implemented')
        self.assertEqual(sorted(self.item_ids(self.items(o, None, NODE_BOOKMARKS))),
                         ['r1@muc.example', 'r2@muc.example'])
        # the owner's configuration form shows what publish-options set
        r = o.iq('get', "<pubsub xmlns='%s'><configure node='%s'/></pubsub>"
                 % (NS_OWNER, NODE_BOOKMARKS))
        self.assertResult(r)
        x = r.find(q(NS_OWNER, 'pubsub')).find(q(NS_OWNER, 'configure'))[0]
        values = {fl.get('var'): fl.find(q('jabber:x:data', 'value')).text for fl in x}
        self.assertEqual(values, {
            'FORM_TYPE': NS_PUBSUB + '#node_config', 'pubsub#max_items': 'max',
            'pubsub#access_model': 'whitelist', 'pubsub#persist_items': '1',
            'pubsub#send_last_published_item': 'never'})
        # and the configuration can be changed: presence lets the friend read
        r = o.iq('set', "<pubsub xmlns='%s'><configure node='%s'><x xmlns='jabber:x:data' "
                 "type='submit'><field var='FORM_TYPE'><value>%s#node_config</value></field>"
                 "<field var='pubsub#access_model'><value>presence</value></field>"
                 "<field var='pubsub#max_items'><value>1</value></field></x></configure>"
                 "</pubsub>" % (NS_OWNER, NODE_BOOKMARKS, NS_PUBSUB))
        self.assertResult(r)
        self.assertEqual(self.item_ids(self.items(f, '%s@localhost' % owner, NODE_BOOKMARKS)),
                         ['r2@muc.example'])

    def test_items_max_and_retract(self):
        owner, fan = new_user('ret'), new_user('fan')
        befriend(owner, fan)
        node = 'urn:itest:moods'
        o = self.login(owner)
        f = self.caps_login(fan, [node])
        for i in range(5):
            self.publish(o, node, "<mood xmlns='urn:itest'>%d</mood>" % i, 'i%d' % i,
                         options=[('max_items', '3')])
            self.expect_event(f, owner, node)
        self.assertEqual(self.item_ids(self.items(f, '%s@localhost' % owner, node)),
                         ['i4', 'i3', 'i2'])
        self.assertEqual(self.item_ids(self.items(f, '%s@localhost' % owner, node,
                                                  attrs=" max_items='2'")), ['i4', 'i3'])
        self.assertEqual(self.item_ids(self.items(
            f, '%s@localhost' % owner, node, extra="<item id='i2'/><item id='i0'/>")), ['i2'])
        self.assertEqual(SRV.db_rows("SELECT COUNT(*) FROM pep_items WHERE username = '%s'"
                                     % owner), [('3',)])
        r = o.iq('set', "<pubsub xmlns='%s'><retract node='%s' notify='true'><item id='i3'/>"
                 "</retract></pubsub>" % (NS_PUBSUB, node))
        self.assertResult(r)
        ev = self.expect_event(f, owner, node)
        self.assertEqual(to_string(ev), to_string(rawxmpp.ET.fromstring(
            "<event xmlns='%s'><items node='%s'><retract id='i3'/></items></event>"
            % (NS_EVENT, node))))
        # without notify nobody hears of it
        r = o.iq('set', "<pubsub xmlns='%s'><retract node='%s'><item id='i2'/></retract>"
                 "</pubsub>" % (NS_PUBSUB, node))
        self.assertResult(r)
        self.expect_no_event(f)
        r = o.iq('set', "<pubsub xmlns='%s'><retract node='%s'><item id='i2'/></retract>"
                 "</pubsub>" % (NS_PUBSUB, node))
        self.assertPubsubError(r, 'cancel', 'item-not-found')
        self.assertEqual(self.item_ids(self.items(f, '%s@localhost' % owner, node)), ['i4'])

    def test_last_item_on_login(self):
        owner, fan = new_user('last'), new_user('fan')
        befriend(owner, fan)
        o = self.login(owner)
        self.publish(o, 'urn:itest:tune', "<tune xmlns='urn:itest'>one</tune>", 't1')
        self.publish(o, 'urn:itest:tune', "<tune xmlns='urn:itest'>two</tune>", 't2')
        self.publish(o, 'urn:itest:quiet', "<q xmlns='urn:itest'/>", 'q1',
                     options=[('send_last_published_item', 'never')])
        f = self.caps_login(fan, ['urn:itest:tune', 'urn:itest:quiet'])
        ev = self.expect_event(f, owner, 'urn:itest:tune')
        self.assertEqual(to_string(ev), to_string(rawxmpp.ET.fromstring(
            "<event xmlns='%s'><items node='urn:itest:tune'><item id='t2'>"
            "<tune xmlns='urn:itest'>two</tune></item></items></event>" % NS_EVENT)))
        self.expect_no_event(f)
        # the owner's own new session gets its last items too
        o2 = self.caps_login(owner, ['urn:itest:tune'])
        self.expect_event(o2, owner, 'urn:itest:tune')
        self.expect_no_event(o2)

    def test_last_items_on_new_subscription(self):
        owner, fan = new_user('own'), new_user('fan')
        o = self.login(owner)
        self.publish(o, 'urn:itest:tune', "<tune xmlns='urn:itest'>one</tune>", 't1')
        self.publish(o, 'urn:itest:tune', "<tune xmlns='urn:itest'>two</tune>", 't2')
        self.publish(o, 'urn:itest:quiet', "<q xmlns='urn:itest'/>", 'q1',
                     options=[('send_last_published_item', 'never')])
        self.publish(o, 'urn:itest:secret', "<s xmlns='urn:itest'/>", 's1',
                     options=[('access_model', 'whitelist')])
        self.publish(o, 'urn:itest:sub', "<s xmlns='urn:itest'/>", 'u1',
                     options=[('send_last_published_item', 'on_sub'), ('access_model', 'open')])
        nodes = ['urn:itest:tune', 'urn:itest:quiet', 'urn:itest:secret', 'urn:itest:sub']
        f1 = self.caps_login(fan, nodes)
        f2 = self.caps_login(fan, ['urn:itest:other'])
        # not subscribed yet: nothing at login
        self.expect_no_event(f1)
        f1.send("<presence to='%s@localhost' type='subscribe'/>" % owner)
        o.recv_match(lambda e: e.tag == q(NS_CLIENT, 'presence')
                     and e.get('type') == 'subscribe')
        o.send("<presence to='%s@localhost' type='subscribed'/>" % fan)
        got = {}
        for _ in range(2):
            ev = self.expect_event(f1, owner, None)
            got[ev[0].get('node')] = to_string(ev)
        self.assertEqual(got, {
            'urn:itest:tune': to_string(rawxmpp.ET.fromstring(
                "<event xmlns='%s'><items node='urn:itest:tune'><item id='t2'>"
                "<tune xmlns='urn:itest'>two</tune></item></items></event>" % NS_EVENT)),
            'urn:itest:sub': to_string(rawxmpp.ET.fromstring(
                "<event xmlns='%s'><items node='urn:itest:sub'><item id='u1'>"
                "<s xmlns='urn:itest'/></item></items></event>" % NS_EVENT))})
        self.expect_no_event(f1)
        self.expect_no_event(f2)
        # a roster change that keeps the subscription sends nothing again
        r = f1.iq('set', "<query xmlns='jabber:iq:roster'><item jid='%s@localhost' "
                  "name='Owner'/></query>" % owner)
        self.assertResult(r)
        self.expect_no_event(f1)
        self.assertEqual(SRV.db_rows("SELECT sub FROM roster_items WHERE username = '%s'" % fan),
                         [('1',)])

    def test_disco_account(self):
        owner, friend, stranger = new_user('disco'), new_user('fr'), new_user('str')
        befriend(owner, friend)
        o = self.login(owner)
        self.publish(o, 'urn:itest:open', "<x xmlns='urn:itest'/>", options=[
            ('access_model', 'open')])
        self.publish(o, 'urn:itest:presence', "<x xmlns='urn:itest'/>")
        self.publish(o, 'urn:itest:secret', "<x xmlns='urn:itest'/>", options=[
            ('access_model', 'whitelist')])
        s = self.login(stranger)
        r = s.iq('get', "<query xmlns='%s'/>" % NS_DISCO, to='%s@localhost' % owner)
        self.assertResult(r)
        qe = r.find(q(NS_DISCO, 'query'))
        ids = sorted((i.get('category'), i.get('type')) for i in qe.findall(q(NS_DISCO,
                                                                               'identity')))
        self.assertEqual(ids, [('account', 'registered'), ('pubsub', 'pep')])
        feats = {fe.get('var') for fe in qe.findall(q(NS_DISCO, 'feature'))}
        # no private storage module here: no XEP-0402 compat
        self.assertNotIn(NODE_BOOKMARKS + '#compat', feats)
        for f in ('publish', 'publish-options', 'auto-create', 'access-presence', 'access-open',
                  'access-whitelist', 'config-node', 'persistent-items', 'delete-items',
                  'last-published', 'item-ids', 'retrieve-items', 'purge-nodes',
                  'delete-nodes'):
            self.assertIn('%s#%s' % (NS_PUBSUB, f), feats)

        def listed(c, to):
            r = c.iq('get', "<query xmlns='%s'/>" % NS_ITEMS, to=to)
            self.assertResult(r)
            items = r.find(q(NS_ITEMS, 'query'))
            self.assertTrue(all(i.get('jid') == '%s@localhost' % owner for i in items))
            return sorted(i.get('node') for i in items)
        self.assertEqual(listed(o, None),
                         ['urn:itest:open', 'urn:itest:presence', 'urn:itest:secret'])
        self.assertEqual(listed(s, '%s@localhost' % owner), ['urn:itest:open'])
        f = self.login(friend)
        self.assertEqual(listed(f, '%s@localhost' % owner),
                         ['urn:itest:open', 'urn:itest:presence'])
        # the items of a node, for those who may read it
        self.publish(o, 'urn:itest:open', "<x xmlns='urn:itest'/>", 'second')
        r = s.iq('get', "<query xmlns='%s' node='urn:itest:open'/>" % NS_ITEMS,
                 to='%s@localhost' % owner)
        self.assertResult(r)
        self.assertEqual([(i.get('jid'), i.get('name')) for i in r.find(q(NS_ITEMS, 'query'))],
                         [('%s@localhost' % owner, 'second')])
        r = s.iq('get', "<query xmlns='%s' node='urn:itest:secret'/>" % NS_ITEMS,
                 to='%s@localhost' % owner)
        self.assertPubsubError(r, 'cancel', 'not-allowed', 'closed-node')
        r = s.iq('get', "<query xmlns='%s' node='urn:itest:none'/>" % NS_ITEMS,
                 to='%s@localhost' % owner)
        self.assertStanzaError(r, 'iq', 'cancel', 'item-not-found')
        r = s.iq('get', "<query xmlns='%s'/>" % NS_ITEMS, to='nobody-%s@localhost' % owner)
        self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable')

    def test_delete_and_purge(self):
        owner, fan = new_user('del'), new_user('fan')
        befriend(owner, fan)
        node = 'urn:itest:gone'
        o = self.login(owner)
        f = self.caps_login(fan, [node])
        self.publish(o, node, "<g xmlns='urn:itest'/>", 'a', options=[('max_items', '5')])
        self.publish(o, node, "<g xmlns='urn:itest'/>", 'b', options=[('max_items', '5')])
        self.expect_event(f, owner, node)
        self.expect_event(f, owner, node)
        r = o.iq('set', "<pubsub xmlns='%s'><purge node='%s'/></pubsub>" % (NS_OWNER, node))
        self.assertResult(r)
        ev = f.recv_match(lambda e: e.find(q(NS_EVENT, 'event')) is not None)
        self.assertEqual(ev.find(q(NS_EVENT, 'event'))[0].tag, q(NS_EVENT, 'purge'))
        self.assertEqual(self.item_ids(self.items(o, None, node)), [])
        r = o.iq('set', "<pubsub xmlns='%s'><delete node='%s'/></pubsub>" % (NS_OWNER, node))
        self.assertResult(r)
        ev = f.recv_match(lambda e: e.find(q(NS_EVENT, 'event')) is not None)
        self.assertEqual(ev.find(q(NS_EVENT, 'event'))[0].tag, q(NS_EVENT, 'delete'))
        self.assertEqual(ev.find(q(NS_EVENT, 'event'))[0].get('node'), node)
        self.assertPubsubError(self.items(o, None, node), 'cancel', 'item-not-found')
        r = o.iq('set', "<pubsub xmlns='%s'><delete node='%s'/></pubsub>" % (NS_OWNER, node))
        self.assertPubsubError(r, 'cancel', 'item-not-found')
        r = f.iq('set', "<pubsub xmlns='%s'><delete node='%s'/></pubsub>" % (NS_OWNER, node),
                 to='%s@localhost' % owner)
        self.assertStanzaError(r, 'iq', 'auth', 'forbidden')
        self.assertEqual(SRV.db_rows("SELECT COUNT(*) FROM pep_nodes WHERE username = '%s'"
                                     % owner), [('0',)])

    def test_limits_while_others_chat(self):
        owner = new_user('big')
        o = self.login(owner)
        with harness.Chatter(SRV):
            big = "<blob xmlns='urn:itest'>%s</blob>" % ('x' * 5000)
            r = o.iq('set', publish_xml('urn:itest:big', big))
            self.assertPubsubError(r, 'modify', 'not-acceptable', 'payload-too-big')
            r = o.iq('set', publish_xml('urn:itest:big', "<b xmlns='urn:itest'/>", None,
                                        [('max_items', '101')]))
            self.assertPubsubError(r, 'modify', 'policy-violation')
            r = o.iq('set', "<pubsub xmlns='%s'><publish node='n'><item id='1'/></publish>"
                     "</pubsub>" % NS_PUBSUB)
            self.assertPubsubError(r, 'modify', 'bad-request', 'payload-required')
            r = o.iq('set', "<pubsub xmlns='%s'><publish node='n'><item id='1'><a xmlns='u'/>"
                     "<b xmlns='u'/></item></publish></pubsub>" % NS_PUBSUB)
            self.assertPubsubError(r, 'modify', 'bad-request', 'invalid-payload')
            r = o.iq('set', "<pubsub xmlns='%s'><publish><item id='1'><a xmlns='u'/></item>"
                     "</publish></pubsub>" % NS_PUBSUB)
            self.assertPubsubError(r, 'modify', 'bad-request', 'nodeid-required')
            for i in range(20):
                self.publish(o, 'urn:itest:n%d' % i, "<a xmlns='u'/>")
            r = o.iq('set', publish_xml('urn:itest:n20', "<a xmlns='u'/>"))
            self.assertPubsubError(r, 'modify', 'policy-violation', 'max-nodes-exceeded')
            # an existing node still takes items
            self.publish(o, 'urn:itest:n3', "<a xmlns='u'/>")
