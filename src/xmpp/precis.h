/* SPDX-License-Identifier: ISC */
/* PRECIS string preparation (RFC 8264/8265) for localparts, resourceparts and passwords. */
#ifndef ST_XMPP_PRECIS_H
#define ST_XMPP_PRECIS_H

#include <stddef.h>

/*
 * What is implemented, and how exactly:
 *
 * - The derived-property algorithm of RFC 8264 §8 is implemented rule by rule, in its order,
 *   from libunistring's Unicode tables (whatever Unicode version the installed libunistring
 *   carries; libunistring 1.0 = Unicode 14.0). Nothing is approximated by a broader category:
 *     Exceptions (RFC 5892 §2.6, hard-coded) > BackwardCompatible (empty) > Unassigned
 *     (general category Cn) > ASCII7 (U+0021..U+007E) > JoinControl (CONTEXTJ) >
 *     OldHangulJamo (Hangul_Syllable_Type L/V/T, hard-coded ranges: stable since Unicode 5.2)
 *     > PrecisIgnorableProperties (Default_Ignorable_Code_Point, Noncharacter_Code_Point) >
 *     Controls (Cc) > HasCompat (NFKC(cp) != cp, computed with u32_normalize) > LetterDigits
 *     (Ll Lu Lo Nd Lm Mn Mc) > OtherLetterDigits (Lt Nl No Me) > Spaces (Zs) > Symbols
 *     (Sm Sc Sk So) > Punctuation (Pc Pd Ps Pe Pi Pf Po) > everything else DISALLOWED.
 *   Unassigned code points are rejected, as both classes require.
 * - The contextual rules of RFC 5892 Appendix A are all checked (ZERO WIDTH NON-JOINER with
 *   Virama or the Joining_Type pattern, ZERO WIDTH JOINER, MIDDLE DOT, GREEK KERAIA, HEBREW
 *   GERESH/GERSHAYIM, KATAKANA MIDDLE DOT, the two sets of Arabic-Indic digits), over the
 *   whole string (PRECIS strings are not split into labels).
 * - The Bidi Rule (RFC 5893 §2, all six conditions) is applied by UsernameCaseMapped to
 *   strings that contain a code point of bidi class R, AL or AN, as RFC 8265 §3.3.1 says.
 * - The rules are re-applied until the output is stable, and an input that is not stable
 *   after three re-applications is rejected (RFC 8264 §7).
 * - Case mapping uses libunistring's full, language-independent toLowerCase() (SpecialCasing
 *   included, so a word-final capital sigma becomes U+03C2).
 *
 * Every function here rejects invalid UTF-8 (and so never returns a string containing a NUL,
 * since controls are disallowed). The output is NUL-terminated, allocated with malloc and owned
 * by the caller (st_free). The input length is not limited here: callers bound it.
 */

/* RFC 8265 §3.3 UsernameCaseMapped (IdentifierClass): width mapping of fullwidth/halfwidth
 * code points, toLowerCase(), NFC, IdentifierClass check, Bidi Rule, non-empty.
 * Returns 0 and sets *out_r, or -1 (and *out_r = NULL) when the input is not a valid username. */
int st_precis_username_casemapped(const char *in, size_t len, char **out_r);

/* RFC 8265 §4.2 OpaqueString (FreeformClass): non-ASCII spaces (Zs) become U+0020, NFC,
 * FreeformClass check, non-empty. No case or width mapping. Used for SASL passwords.
 * Returns 0 and sets *out_r, or -1 (and *out_r = NULL). */
int st_precis_opaque_string(const char *in, size_t len, char **out_r);

/* RFC 7622 §3.4: a resourcepart is enforced with the OpaqueString profile; this is that
 * profile under the name the address code uses (the 1023-byte limit is the caller's).
 * Returns 0 and sets *out_r, or -1 (and *out_r = NULL). */
int st_precis_resourcepart(const char *in, size_t len, char **out_r);

#endif
