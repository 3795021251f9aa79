# SPDX-License-Identifier: ISC
# vcard-temp (XEP-0054), private XML storage (XEP-0049) and starlingctl get_vcard/set_vcard:
# exact stanzas and rows, size caps, on the backend the runner selects.

import re

import harness
from harness import PASSWORD
from rawxmpp import to_string

SRV = None
VCARD_MAX = 1024
PRIVATE_MAX = 512
USERS = ('alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'ivan', 'jack', 'kate', 'leo')


def setUpModule():
    global SRV
    SRV = harness.module_server(
        'vcard', accounts={u: PASSWORD for u in USERS},
        modules={'disco': {}, 'vcard': {'max_size': VCARD_MAX},
                 'private': {'max_size': PRIVATE_MAX}})


def tearDownModule():
    harness.module_teardown(SRV)


def raw_iq(c, iid):
    """The serialized form of the iq with this id, as the server wrote it."""
    m = re.search(r"<iq (?:[^>]*? )?id='%s'[^>]*?(?:/>|>.*?</iq>)" % re.escape(iid), c.received,
                  re.S)
    assert m, 'no iq %s in %r' % (iid, c.received[-2000:])
    return m.group(0)


class Base(harness.TestCase):
    def send_iq(self, c, itype, payload, to=None, iid=None):
        iid = iid or c.next_id('iq')
        c.send("<iq type='%s' id='%s'%s>%s</iq>"
               % (itype, iid, " to='%s'" % to if to else '', payload))
        return iid

    def exchange(self, c, itype, payload, to=None):
        """Sends an iq, waits for its answer, returns its exact serialized form."""
        iid = self.send_iq(c, itype, payload, to)
        c.recv_match(lambda e: e.get('id') == iid)
        return raw_iq(c, iid).replace(iid, 'ID')

    def rows(self, sql):
        return SRV.db_rows(sql)


VCARD = ("<vCard xmlns='vcard-temp'><FN>Alice &amp; Co</FN><N><FAMILY>Liddell</FAMILY>"
         "<GIVEN>Alice</GIVEN></N><NICKNAME>al</NICKNAME>"
         "<PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgo=</BINVAL></PHOTO></vCard>")


class VCard(Base):
    def test_own_empty_then_set_get(self):
        a = self.login('alice')
        me = a.jid
        # none yet: an empty <vCard/> (XEP-0054 §3.1)
        self.assertEqual(self.exchange(a, 'get', "<vCard xmlns='vcard-temp'/>"),
                         "<iq type='result' id='ID' to='%s'><vCard xmlns='vcard-temp'/></iq>" % me)
        self.assertEqual(self.exchange(a, 'set', VCARD),
                         "<iq type='result' id='ID' to='%s'/>" % me)
        self.assertEqual(self.rows("SELECT host, username, vcard FROM vcards "
                                   "WHERE username = 'alice'"),
                         [('localhost', 'alice', VCARD)])
        self.assertEqual(self.exchange(a, 'get', "<vCard xmlns='vcard-temp'/>"),
                         "<iq type='result' id='ID' to='%s'>%s</iq>" % (me, VCARD))
        # to the own bare JID: the same, from the bare JID
        self.assertEqual(self.exchange(a, 'get', "<vCard xmlns='vcard-temp'/>",
                                       to='alice@localhost'),
                         "<iq type='result' id='ID' to='%s' from='alice@localhost'>%s</iq>"
                         % (me, VCARD))
        # another account reads it, answered by the server
        b = self.login('bob')
        self.assertEqual(self.exchange(b, 'get', "<vCard xmlns='vcard-temp'/>",
                                       to='alice@localhost'),
                         "<iq type='result' id='ID' to='%s' from='alice@localhost'>%s</iq>"
                         % (b.jid, VCARD))
        # an empty <vCard/> removes it
        self.assertEqual(self.exchange(a, 'set', "<vCard xmlns='vcard-temp'/>",
                                       to='alice@localhost'),
                         "<iq type='result' id='ID' to='%s' from='alice@localhost'/>" % me)
        self.assertEqual(self.rows("SELECT username FROM vcards WHERE username = 'alice'"), [])
        self.assertEqual(self.exchange(a, 'get', "<vCard xmlns='vcard-temp'/>"),
                         "<iq type='result' id='ID' to='%s'><vCard xmlns='vcard-temp'/></iq>" % me)

    def test_others_missing_is_service_unavailable(self):
        b = self.login('bob')
        for who in ('carol@localhost', 'nobody@localhost'):
            r = b.iq('get', "<vCard xmlns='vcard-temp'/>", to=who)
            self.assertStanzaError(r, 'iq', 'cancel', 'service-unavailable', frm=who, to=b.jid)

    def test_set_other_forbidden(self):
        c = self.login('carol')
        r = c.iq('set', "<vCard xmlns='vcard-temp'><FN>X</FN></vCard>", to='dave@localhost')
        self.assertStanzaError(r, 'iq', 'auth', 'forbidden', frm='dave@localhost', to=c.jid)
        r = c.iq('set', "<vCard xmlns='vcard-temp'><FN>X</FN></vCard>", to='nobody@localhost')
        self.assertStanzaError(r, 'iq', 'auth', 'forbidden')
        self.assertEqual(self.rows("SELECT username FROM vcards WHERE username IN "
                                   "('dave', 'nobody')"), [])

    def test_size_cap(self):
        d = self.login('dave')
        head, tail = "<vCard xmlns='vcard-temp'><DESC>", "</DESC></vCard>"
        fits = head + 'x' * (VCARD_MAX - len(head) - len(tail)) + tail
        self.assertEqual(len(fits), VCARD_MAX)
        self.assertEqual(self.exchange(d, 'set', fits), "<iq type='result' id='ID' to='%s'/>"
                         % d.jid)
        over = head + 'y' * (VCARD_MAX + 1 - len(head) - len(tail)) + tail
        r = d.iq('set', over)
        self.assertStanzaError(r, 'iq', 'modify', 'policy-violation', to=d.jid)
        self.assertEqual(r.find('{jabber:client}error/{urn:ietf:params:xml:ns:xmpp-stanzas}text')
                         .text, 'the vCard is larger than %d bytes' % VCARD_MAX)
        # the stored one is untouched, and the session goes on
        self.assertEqual(self.rows("SELECT vcard FROM vcards WHERE username = 'dave'"), [(fits,)])
        self.assertEqual(self.exchange(d, 'get', "<vCard xmlns='vcard-temp'/>"),
                         "<iq type='result' id='ID' to='%s'>%s</iq>" % (d.jid, fits))

    def test_pipelined_in_order(self):
        # a get sent right behind a set sees the set: the session waits for storage
        e = self.login('erin')
        ids = []
        for i in range(5):
            ids.append(self.send_iq(e, 'set', "<vCard xmlns='vcard-temp'><FN>v%d</FN></vCard>" % i))
            ids.append(self.send_iq(e, 'get', "<vCard xmlns='vcard-temp'/>"))
        order = []
        for _ in ids:
            el = e.recv_match(lambda x: x.get('id') in ids)
            order.append(el.get('id'))
        self.assertEqual(order, ids)
        for i in range(5):
            self.assertEqual(raw_iq(e, ids[2 * i + 1]),
                             "<iq type='result' id='%s' to='%s'><vCard xmlns='vcard-temp'>"
                             "<FN>v%d</FN></vCard></iq>" % (ids[2 * i + 1], e.jid, i))

    def test_disco_feature(self):
        a = self.login('alice')
        ns = 'http://jabber.org/protocol/disco#info'
        r = a.iq('get', "<query xmlns='%s'/>" % ns, to='bob@localhost')
        feats = [f.get('var') for f in r.find('{%s}query' % ns).findall('{%s}feature' % ns)]
        self.assertIn('vcard-temp', feats, to_string(r))


NS_UPDATE = 'vcard-temp:x:update'
ABC_SHA1 = 'a9993e364706816aba3e25717850c26c9cd0d89d'  # SHA-1 of b'abc' (base64 YWJj)


class AvatarHash(Base):
    """XEP-0153: the photo hash is added to the available presence a client sends."""

    def presence_to(self, sender, receiver, inner=''):
        sender.send("<presence to='%s'>%s</presence>" % (receiver.jid, inner))
        return receiver.recv_match(lambda e: e.tag == '{jabber:client}presence'
                                   and e.get('from') == sender.jid)

    def photo_of(self, presence):
        xs = presence.findall('{%s}x' % NS_UPDATE)
        self.assertEqual(len(xs), 1, to_string(presence))
        photos = xs[0].findall('{%s}photo' % NS_UPDATE)
        self.assertEqual((len(photos), len(xs[0])), (1, 1), to_string(presence))
        return photos[0].text or ''

    def test_hash_follows_the_vcard(self):
        k = self.login('kate')
        j = self.login('jack')
        # no vCard: an empty <photo/> says "no avatar"
        self.assertEqual(self.photo_of(self.presence_to(j, k)), '')
        self.exchange(j, 'set', "<vCard xmlns='vcard-temp'><FN>Jack</FN><PHOTO><TYPE>image/png"
                                "</TYPE><BINVAL>\nYW\nJj\n</BINVAL></PHOTO></vCard>")
        # the same session: the new hash from now on
        self.assertEqual(self.photo_of(self.presence_to(j, k)), ABC_SHA1)
        # a new session: loaded from storage at login
        j2 = self.login('jack')
        self.assertEqual(self.photo_of(self.presence_to(j2, k, '<priority>1</priority>')),
                         ABC_SHA1)
        # what the client put there is left alone
        p = self.presence_to(j2, k, "<x xmlns='%s'/>" % NS_UPDATE)
        self.assertEqual([to_string(c) for c in p],
                         ['<ns0:x xmlns:ns0="%s" />' % NS_UPDATE])
        # not on unavailable presence
        j2.send("<presence type='unavailable' to='%s'/>" % k.jid)
        p = k.recv_match(lambda e: e.tag == '{jabber:client}presence'
                         and e.get('type') == 'unavailable')
        self.assertEqual(len(p), 0, to_string(p))
        # removing the photo empties the hash
        self.exchange(j, 'set', "<vCard xmlns='vcard-temp'><FN>Jack</FN></vCard>")
        self.assertEqual(self.photo_of(self.presence_to(j, k)), '')
        self.assertEqual(self.photo_of(self.presence_to(j2, k)), '')

    def test_off(self):
        srv = harness.module_server('vcard-nohash', accounts={'leo': PASSWORD, 'kate': PASSWORD},
                                    modules={'vcard': {'avatar_hash': False}})
        try:
            k = self.login('kate', srv=srv)
            leo = self.login('leo', srv=srv)
            leo.send("<presence to='%s'/>" % k.jid)
            p = k.recv_match(lambda e: e.tag == '{jabber:client}presence')
            self.assertEqual(len(p), 0, to_string(p))
        finally:
            harness.module_teardown(srv)


class Private(Base):
    def test_store_and_retrieve(self):
        f = self.login('frank')
        me = f.jid
        # nothing stored: the element asked for comes back empty
        self.assertEqual(self.exchange(f, 'get', "<query xmlns='jabber:iq:private'>"
                                                 "<storage xmlns='storage:bookmarks'/></query>"),
                         "<iq type='result' id='ID' to='%s'><query xmlns='jabber:iq:private'>"
                         "<storage xmlns='storage:bookmarks'/></query></iq>" % me)
        bm = ("<storage xmlns='storage:bookmarks'><conference jid='room@muc.example' "
              "autojoin='true' name='R &amp; D'><nick>frank</nick></conference></storage>")
        self.assertEqual(self.exchange(f, 'set', "<query xmlns='jabber:iq:private'>%s</query>"
                                       % bm),
                         "<iq type='result' id='ID' to='%s'/>" % me)
        self.assertEqual(self.rows("SELECT host, username, namespace, name, data FROM "
                                   "private_storage WHERE username = 'frank'"),
                         [('localhost', 'frank', 'storage:bookmarks', 'storage', bm)])
        self.assertEqual(self.exchange(f, 'get', "<query xmlns='jabber:iq:private'>"
                                                 "<storage xmlns='storage:bookmarks'/></query>",
                                       to='frank@localhost'),
                         "<iq type='result' id='ID' to='%s' from='frank@localhost'>"
                         "<query xmlns='jabber:iq:private'>%s</query></iq>" % (me, bm))
        # same namespace, another name: kept apart; a set may hold several elements
        notes = "<storage xmlns='storage:rosternotes'><note jid='a@b'>hi</note></storage>"
        other = "<other xmlns='storage:bookmarks'>o</other>"
        self.assertEqual(self.exchange(f, 'set', "<query xmlns='jabber:iq:private'>%s%s</query>"
                                       % (notes, other)),
                         "<iq type='result' id='ID' to='%s'/>" % me)
        self.assertEqual(sorted(self.rows("SELECT namespace, name, data FROM private_storage "
                                          "WHERE username = 'frank'")),
                         [('storage:bookmarks', 'other', other),
                          ('storage:bookmarks', 'storage', bm),
                          ('storage:rosternotes', 'storage', notes)])
        self.assertEqual(self.exchange(f, 'get', "<query xmlns='jabber:iq:private'>"
                                                 "<other xmlns='storage:bookmarks'/></query>"),
                         "<iq type='result' id='ID' to='%s'><query xmlns='jabber:iq:private'>"
                         "%s</query></iq>" % (me, other))
        # replaced
        bm2 = "<storage xmlns='storage:bookmarks'/>"
        self.exchange(f, 'set', "<query xmlns='jabber:iq:private'>%s</query>" % bm2)
        self.assertEqual(self.rows("SELECT data FROM private_storage WHERE username = 'frank' "
                                   "AND name = 'storage' AND namespace = 'storage:bookmarks'"),
                         [(bm2,)])

    def test_other_user_forbidden(self):
        g = self.login('gina')
        for itype in ('get', 'set'):
            r = g.iq(itype, "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'"
                            "/></query>", to='frank@localhost')
            self.assertStanzaError(r, 'iq', 'auth', 'forbidden', frm='frank@localhost', to=g.jid)
        self.assertEqual(self.rows("SELECT username FROM private_storage WHERE username = 'gina'"),
                         [])

    def test_bad_requests(self):
        g = self.login('gina')
        for itype in ('get', 'set'):
            r = g.iq(itype, "<query xmlns='jabber:iq:private'/>")
            self.assertStanzaError(r, 'iq', 'modify', 'bad-request', to=g.jid)
            for child in ("<x/>", "<x xmlns='jabber:client'/>", "<x xmlns='jabber:server'/>",
                          "<query xmlns='jabber:iq:private'/>"):
                r = g.iq(itype, "<query xmlns='jabber:iq:private'>%s</query>" % child)
                self.assertStanzaError(r, 'iq', 'modify', 'not-acceptable', to=g.jid)
        # a get asks for one namespace only
        r = g.iq('get', "<query xmlns='jabber:iq:private'><a xmlns='urn:a'/><b xmlns='urn:b'/>"
                        "</query>")
        self.assertStanzaError(r, 'iq', 'modify', 'bad-request', to=g.jid)
        self.assertEqual(self.rows("SELECT username FROM private_storage WHERE username = 'gina'"),
                         [])

    def test_size_cap(self):
        g = self.login('gina')
        head, tail = "<big xmlns='urn:big'>", "</big>"
        fits = head + 'x' * (PRIVATE_MAX - len(head) - len(tail)) + tail
        self.assertEqual(self.exchange(g, 'set', "<query xmlns='jabber:iq:private'>%s</query>"
                                       % fits), "<iq type='result' id='ID' to='%s'/>" % g.jid)
        over = head + 'y' * (PRIVATE_MAX + 1 - len(head) - len(tail)) + tail
        r = g.iq('set', "<query xmlns='jabber:iq:private'>%s</query>" % over)
        self.assertStanzaError(r, 'iq', 'modify', 'policy-violation', to=g.jid)
        self.assertEqual(self.rows("SELECT data FROM private_storage WHERE username = 'gina' "
                                   "AND namespace = 'urn:big'"), [(fits,)])


class Ctl(Base):
    def test_get_set_vcard(self):
        SRV.register('henry')
        r = SRV.ctl('get_vcard', 'henry', 'localhost', 'FN')
        self.assertEqual((r.returncode, r.stdout, r.stderr),
                         (1, '', 'User henry@localhost has no vCard\n'))
        self.assertEqual(SRV.ctl_ok('set_vcard', 'henry', 'localhost', 'FN', 'Henry <V> & co'),
                         '')
        self.assertEqual(SRV.ctl_ok('set_vcard', 'henry', 'localhost', 'NICKNAME', 'hal'), '')
        self.assertEqual(self.rows("SELECT vcard FROM vcards WHERE username = 'henry'"),
                         [("<vCard xmlns='vcard-temp'><FN>Henry &lt;V&gt; &amp; co</FN>"
                           "<NICKNAME>hal</NICKNAME></vCard>",)])
        self.assertEqual(SRV.ctl_ok('get_vcard', 'henry', 'localhost', 'FN'), 'Henry <V> & co\n')
        self.assertEqual(SRV.ctl_ok('get_vcard', 'henry', 'localhost', 'NICKNAME'), 'hal\n')
        r = SRV.ctl('get_vcard', 'henry', 'localhost', 'URL')
        self.assertEqual((r.returncode, r.stderr),
                         (1, 'The vCard of henry@localhost has no field URL\n'))
        # clients see what the CLI set; the CLI sees what a client set
        a = self.login('ivan')
        self.assertEqual(self.exchange(a, 'get', "<vCard xmlns='vcard-temp'/>",
                                       to='henry@localhost'),
                         "<iq type='result' id='ID' to='%s' from='henry@localhost'>"
                         "<vCard xmlns='vcard-temp'><FN>Henry &lt;V&gt; &amp; co</FN>"
                         "<NICKNAME>hal</NICKNAME></vCard></iq>" % a.jid)
        self.exchange(a, 'set', "<vCard xmlns='vcard-temp'><FN>Ivan</FN><NICKNAME>ali"
                                "</NICKNAME></vCard>")
        self.assertEqual(SRV.ctl_ok('get_vcard', 'ivan', 'localhost', 'NICKNAME'), 'ali\n')
        SRV.ctl_ok('set_vcard', 'ivan', 'localhost', 'FN', 'Ivan L.')
        self.assertEqual(self.exchange(a, 'get', "<vCard xmlns='vcard-temp'/>"),
                         "<iq type='result' id='ID' to='%s'><vCard xmlns='vcard-temp'>"
                         "<FN>Ivan L.</FN><NICKNAME>ali</NICKNAME></vCard></iq>" % a.jid)
        # the account and its vCard go together
        SRV.ctl_ok('unregister', 'henry', 'localhost')
        self.assertEqual(self.rows("SELECT username FROM vcards WHERE username = 'henry'"), [])

    def test_errors(self):
        r = SRV.ctl('set_vcard', 'nobody', 'localhost', 'FN', 'x')
        self.assertEqual((r.returncode, r.stderr), (1, 'User nobody@localhost does not exist\n'))
        self.assertEqual(self.rows("SELECT username FROM vcards WHERE username = 'nobody'"), [])
        r = SRV.ctl('get_vcard', 'nobody', 'localhost', 'FN')
        self.assertEqual((r.returncode, r.stderr), (1, 'User nobody@localhost has no vCard\n'))
        r = SRV.ctl('set_vcard', 'bob', 'localhost', 'F N', 'x')
        self.assertEqual((r.returncode, r.stderr), (1, "invalid vCard field name 'F N'\n"))
        r = SRV.ctl('get_vcard', 'bob', 'nohost.example', 'FN')
        self.assertEqual((r.returncode, r.stderr), (1, "unknown host 'nohost.example'\n"))
        # the CLI's cap is the default max_size (64 KiB) of the whole vCard
        SRV.ctl_ok('set_vcard', 'bob', 'localhost', 'DESC', 'z' * 40000)
        r = SRV.ctl('set_vcard', 'bob', 'localhost', 'NOTE', 'z' * 30000)
        self.assertEqual((r.returncode, r.stderr),
                         (1, 'The vCard of bob@localhost would be larger than 65536 bytes\n'))
        self.assertEqual(self.rows("SELECT vcard FROM vcards WHERE username = 'bob'"),
                         [("<vCard xmlns='vcard-temp'><DESC>%s</DESC></vCard>" % ('z' * 40000),)])
        SRV.ctl_ok('set_vcard', 'bob', 'localhost', 'DESC', '')
        r = SRV.ctl('get_vcard', 'bob', 'localhost')
        self.assertEqual(r.returncode, 2)


class Slixmpp(harness.TestCase):
    """slixmpp's own vcard-temp (XEP-0054) and bookmarks over private storage (XEP-0048/0049)
    plugins against the server. Reuses test_slixmpp's client, pointed at this module's server."""

    def test_vcard_and_bookmarks(self):
        try:
            import test_slixmpp as slix
        except ImportError:
            self.skipTest('test_slixmpp cannot be imported')
        if not slix.HAVE_SLIXMPP:
            self.skipTest('python3-slixmpp is not installed')
        from slixmpp.plugins.xep_0048 import Bookmarks
        saved = slix.SRV
        slix.SRV = SRV
        self.addCleanup(setattr, slix, 'SRV', saved)

        class Case(slix.SlixTest):
            pass
        case = Case()

        async def scenario(new):
            m = await case.connect(new, 'mia')
            n = await case.connect(new, 'ned')
            for c in (m, n):
                c.register_plugin('xep_0054')
                c.register_plugin('xep_0049')
                c.register_plugin('xep_0048')
            card = m['xep_0054'].make_vcard()
            card['FN'] = 'Mia Wallace'
            card['NICKNAME'] = 'mia'
            await m['xep_0054'].publish_vcard(card)
            own = await m['xep_0054'].get_vcard('mia@localhost', local=False)
            seen = await n['xep_0054'].get_vcard('mia@localhost', local=False)
            bm = Bookmarks()
            bm.add_conference('room@muc.example', 'mia', name='Room', autojoin=True)
            await m['xep_0048'].set_bookmarks(bm, method='xep_0049')
            got = await m['xep_0048'].get_bookmarks(method='xep_0049')
            return (own['vcard_temp']['FN'], own['vcard_temp']['NICKNAME'],
                    seen['vcard_temp']['FN'], seen['from'].bare,
                    [(str(c['jid']), c['nick'], c['name'], c['autojoin'])
                     for c in got['private']['bookmarks']['conferences']])
        for u in ('mia', 'ned'):
            if u not in SRV.accounts:
                SRV.register(u)
        self.assertEqual(case.run_async(scenario),
                         ('Mia Wallace', ['mia'], 'Mia Wallace', 'mia@localhost',
                          [('room@muc.example', 'mia', 'Room', True)]))
        self.assertEqual(SRV.db_rows("SELECT namespace, name FROM private_storage "
                                     "WHERE username = 'mia'"),
                         [('storage:bookmarks', 'storage')])
