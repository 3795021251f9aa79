# SPDX-License-Identifier: ISC
# Runs the integration tests (unittest) and ends with the line "N passed, N failed".
#
#   /usr/bin/python3 runner.py [--backend sqlite|pgsql|all] [-k PATTERN]... [TEST_NAME...]
#
# --backend all runs the whole suite once per backend (pgsql only when ST_TEST_PGSQL is set).
# TEST_NAME is a unittest name such as test_auth or test_auth.Mechanisms.test_plain.

import argparse
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class CountingResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = 0
        self.failed_names = []

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.failed_names.append(str(test))

    def addError(self, test, err):
        super().addError(test, err)
        self.failed_names.append(str(test))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.failed_names.append(str(subtest))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed_names.append(str(test))

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        if self.showAll:
            self.stream.writeln('    (%.1fs)' % (time.monotonic() - self._t0))


def only_for_backend(suite, backend):
    """Drops the tests of classes that declare `backends` without this one (e.g. a PostgreSQL
    outage): they do not apply, so they are neither run nor counted as skipped."""
    kept = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            kept.addTest(only_for_backend(t, backend))
        elif backend in getattr(t, 'backends', (backend,)):
            kept.addTest(t)
    return kept


def run_suite(backend, names, patterns):
    os.environ['ST_BACKEND'] = backend
    loader = unittest.TestLoader()
    if patterns:
        loader.testNamePatterns = ['*%s*' % p if '*' not in p else p for p in patterns]
    if names:
        suite = loader.loadTestsFromNames(names)
    else:
        suite = loader.discover(HERE, pattern='test_*.py', top_level_dir=HERE)
    suite = only_for_backend(suite, backend)
    sys.stdout.write('==== integration tests, backend %s ====\n' % backend)
    sys.stdout.flush()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=CountingResult)
    result = runner.run(suite)
    failed = len(result.failed_names)
    return result.passed, failed, len(result.skipped), result.failed_names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--backend', default=os.environ.get('ST_BACKEND', 'sqlite'),
                    choices=['sqlite', 'pgsql', 'all'])
    ap.add_argument('-k', action='append', default=[], dest='patterns')
    ap.add_argument('names', nargs='*')
    args = ap.parse_args()
    if args.backend == 'all':
        backends = ['sqlite'] + (['pgsql'] if os.environ.get('ST_TEST_PGSQL') else [])
    else:
        backends = [args.backend]
    total_passed = total_failed = total_skipped = 0
    all_failed = []
    for b in backends:
        p, f, s, names = run_suite(b, args.names, args.patterns)
        total_passed += p
        total_failed += f
        total_skipped += s
        all_failed += ['[%s] %s' % (b, n) for n in names]
        sys.stdout.write('backend %s: %d passed, %d failed, %d skipped\n' % (b, p, f, s))
    if all_failed:
        sys.stdout.write('failed:\n' + ''.join('  %s\n' % n for n in all_failed))
    if total_skipped:
        sys.stdout.write('%d skipped\n' % total_skipped)
    sys.stdout.write('%d passed, %d failed\n' % (total_passed, total_failed))
    sys.stdout.flush()
    return 1 if total_failed or total_passed == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
