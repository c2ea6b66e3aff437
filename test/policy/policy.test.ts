// containers-policy.json parsing, scope choice and needsSignatures.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigFileError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { evaluate } from '../../src/policy/evaluate.js';
import { candidateScopes, loadPolicyFile, needsSignatures, parsePolicy, requirementsFor, type Requirement } from '../../src/policy/policy.js';
import { tempDir } from '../helpers/tmp.js';
import { DIGEST } from '../helpers/signing-keys.js';

const FILE = '/etc/containers/policy.json';
const KEY = Buffer.from('key').toString('base64');

/** A policy as Fedora and RHEL ship it, with the sections of other transports users meet. */
const REAL_WORLD = {
  default: [{ type: 'insecureAcceptAnything' }],
  transports: {
    docker: {
      'registry.access.redhat.com': [{ type: 'signedBy', keyType: 'GPGKeys', keyPaths: ['/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release', '/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-beta'] }],
      'registry.redhat.io': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release' }],
      'quay.io/fedora': [{ type: 'sigstoreSigned', keyPath: '/etc/pki/sigstore/fedora.pub', signedIdentity: { type: 'matchRepository' } }],
    },
    'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] },
    atomic: { 'registry.example.com': [{ type: 'signedBy', keyType: 'GPGKeys', keyData: KEY }] },
    oci: { '/var/lib/images': [{ type: 'reject' }] },
    'containers-storage': { '': [{ type: 'insecureAcceptAnything' }] },
    'oci-archive': { '': [{ type: 'sigstoreSigned', fulcio: { caPath: '/ca', oidcIssuer: 'https://x', subjectEmail: 'a@b' }, rekorPublicKeyPath: '/rekor.pub' }] },
    dir: { '': [{ type: 'signedBaseLayer', baseLayerIdentity: { type: 'matchRepository' } }, { type: 'signedBy', keyType: 'X509Certificates', keyPath: '/x' }] },
  },
};

function configError(text: string, pattern: RegExp): void {
  assert.throws(
    () => parsePolicy(text, FILE),
    (e: unknown) => {
      assert.ok(e instanceof ConfigFileError, String(e));
      assert.equal(e.code, 'IMGDESC_CONFIG');
      assert.equal(e.file, FILE);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

const withDocker = (scopes: Record<string, unknown>, def: unknown[] = [{ type: 'reject' }]) => JSON.stringify({ default: def, transports: { docker: scopes } });
const docker = (req: Record<string, unknown>) => withDocker({ 'quay.io/x': [req] });

describe('parsePolicy', () => {
  test('reads a real-world policy with other transports, unsupported features there included', () => {
    const p = parsePolicy(JSON.stringify(REAL_WORLD), FILE);
    assert.equal(p.file, FILE);
    assert.deepEqual(p.default, [{ type: 'insecureAcceptAnything' }]);
    assert.deepEqual([...p.docker.keys()], ['registry.access.redhat.com', 'registry.redhat.io', 'quay.io/fedora']);
    assert.deepEqual(p.otherTransports, ['docker-daemon', 'atomic', 'oci', 'containers-storage', 'oci-archive', 'dir']);
    assert.deepEqual(p.docker.get('registry.redhat.io'), [
      { type: 'signedBy', keyType: 'GPGKeys', keyPaths: ['/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release'], keyData: [], signedIdentity: { type: 'matchRepoDigestOrExact' } },
    ]);
    assert.deepEqual(p.docker.get('quay.io/fedora'), [{ type: 'sigstoreSigned', keyPaths: ['/etc/pki/sigstore/fedora.pub'], keyData: [], signedIdentity: { type: 'matchRepository' } }]);
  });

  test('keyData is base64-decoded; a relative keyPath resolves against the working directory, as c/image opens it', () => {
    const p = parsePolicy(withDocker({ a: [{ type: 'signedBy', keyType: 'GPGKeys', keyData: KEY }], b: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: 'keys/k.gpg' }] }), FILE);
    const a = p.docker.get('a')![0] as Extract<Requirement, { type: 'signedBy' }>;
    assert.deepEqual(a.keyData, [Buffer.from('key')]);
    assert.deepEqual((p.docker.get('b')![0] as Extract<Requirement, { type: 'signedBy' }>).keyPaths, [resolve('keys/k.gpg')]);
  });

  test('every signedIdentity kind parses', () => {
    const kinds = [
      { type: 'matchRepoDigestOrExact' },
      { type: 'matchRepository' },
      { type: 'matchExact' },
      { type: 'exactReference', dockerReference: 'quay.io/x/y:1' },
      { type: 'exactRepository', dockerRepository: 'busybox' },
      { type: 'remapIdentity', prefix: 'mirror.local:5000', signedPrefix: 'docker.io/library' },
    ];
    for (const signedIdentity of kinds) {
      const p = parsePolicy(docker({ type: 'signedBy', keyType: 'GPGKeys', keyData: KEY, signedIdentity }), FILE);
      assert.deepEqual((p.docker.get('quay.io/x')![0] as { signedIdentity: unknown }).signedIdentity, signedIdentity);
    }
  });

  const malformed: [string, string, RegExp][] = [
    ['not JSON', '{"default": [', /^\/etc\/containers\/policy\.json: .*unexpected end of the JSON text \(line 1, column 14\)/],
    ['not an object', '[]', /policy\.json: expected an object, found an array/],
    ['default missing', '{"transports": {}}', /policy\.json: default: is missing/],
    ['default empty', '{"default": []}', /policy\.json: default: the list of requirements must not be empty/],
    ['unknown top-level key', '{"default": [{"type": "reject"}], "defaults": 1}', /policy\.json: defaults: unknown key \(allowed here: default, transports\)/],
    ['duplicate key', '{"default": [{"type": "reject"}], "default": [{"type": "reject"}]}', /key "default" appears twice/],
    ['transports not an object', '{"default": [{"type": "reject"}], "transports": []}', /transports: expected an object, found an array/],
    ['scope not a list', withDocker({ 'quay.io/x': {} }), /transports\.docker\["quay\.io\/x"\]: expected an array, found an object/],
    ['unknown requirement type', docker({ type: 'acceptEverything' }), /transports\.docker\["quay\.io\/x"\]\[0\]\.type: "acceptEverything" is not a requirement type/],
    ['extra key on reject', docker({ type: 'reject', why: 'x' }), /transports\.docker\["quay\.io\/x"\]\[0\]\.why: unknown key/],
    ['keyType unknown', docker({ type: 'signedBy', keyType: 'X', keyPath: '/k' }), /policy\.json: transports\.docker\["quay\.io\/x"\]\[0\]\.keyType: "X" is not one of GPGKeys/],
    ['keyType unimplemented', docker({ type: 'signedBy', keyType: 'X509Certificates', keyPath: '/k' }), /keyType: "X509Certificates" is not supported/],
    ['keyType missing', docker({ type: 'signedBy', keyPath: '/k' }), /\[0\]\.keyType: expected a string, found missing/],
    ['two key sources', docker({ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k', keyData: KEY }), /\[0\]: exactly one of keyPath, keyPaths, keyData must be given, found keyPath, keyData/],
    ['no key source', docker({ type: 'signedBy', keyType: 'GPGKeys' }), /found none/],
    ['empty keyPaths', docker({ type: 'signedBy', keyType: 'GPGKeys', keyPaths: [] }), /\[0\]\.keyPaths: is empty/],
    ['keyPaths entry not a string', docker({ type: 'signedBy', keyType: 'GPGKeys', keyPaths: ['/a', 3] }), /\[0\]\.keyPaths\[1\]: expected a string, found a number/],
    ['keyData not base64', docker({ type: 'signedBy', keyType: 'GPGKeys', keyData: 'not base64!' }), /\[0\]\.keyData: is not base64 data/],
    ['unknown signedIdentity', docker({ type: 'signedBy', keyType: 'GPGKeys', keyData: KEY, signedIdentity: { type: 'matchAll' } }), /signedIdentity\.type: "matchAll" is not a signedIdentity type/],
    ['exactReference without tag', docker({ type: 'signedBy', keyType: 'GPGKeys', keyData: KEY, signedIdentity: { type: 'exactReference', dockerReference: 'quay.io/x/y' } }), /signedIdentity\.dockerReference: "quay\.io\/x\/y" has neither a tag nor a digest/],
    ['exactRepository missing field', docker({ type: 'signedBy', keyType: 'GPGKeys', keyData: KEY, signedIdentity: { type: 'exactRepository' } }), /signedIdentity\.dockerRepository: is missing/],
    ['remapIdentity bad prefix', docker({ type: 'signedBy', keyType: 'GPGKeys', keyData: KEY, signedIdentity: { type: 'remapIdentity', prefix: 'https://x', signedPrefix: 'y' } }), /signedIdentity\.prefix: "https:\/\/x" is not a host/],
    ['fulcio in docker', docker({ type: 'sigstoreSigned', fulcio: { caPath: '/ca', oidcIssuer: 'i', subjectEmail: 'e' }, rekorPublicKeyPath: '/r' }), /\[0\]\.fulcio: is not supported: imgdesc verifies sigstore signatures with public keys only/],
    ['rekor in default', JSON.stringify({ default: [{ type: 'sigstoreSigned', keyPath: '/k', rekorPublicKeyPath: '/r' }] }), /default\[0\]\.rekorPublicKeyPath: is not supported/],
    ['signedBaseLayer in docker', docker({ type: 'signedBaseLayer', baseLayerIdentity: { type: 'matchRepository' } }), /"signedBaseLayer" is not supported/],
    ['sigstore keyDatas empty', docker({ type: 'sigstoreSigned', keyDatas: [] }), /\[0\]\.keyDatas: is empty/],
    ['bad requirement in another transport', JSON.stringify({ default: [{ type: 'reject' }], transports: { oci: { '': [{ type: 'nope' }] } } }), /transports\.oci\[""\]\[0\]\.type: "nope" is not a requirement type/],
    ['null where a string belongs', docker({ type: 'signedBy', keyType: 'GPGKeys', keyPath: null }), /\[0\]\.keyPath: expected a string, found null/],
  ];
  for (const [name, text, pattern] of malformed) {
    test(`malformed: ${name} is a ConfigFileError naming the file and the JSON path`, () => configError(text, pattern));
  }

  test('loadPolicyFile reads a file; an absent or unreadable one is a ConfigFileError', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'policy.json');
    await writeFile(file, JSON.stringify(REAL_WORLD));
    assert.equal((await loadPolicyFile(file)).file, file);
    await assert.rejects(loadPolicyFile(join(dir, 'none.json')), (e: unknown) => e instanceof ConfigFileError && /none\.json: cannot read the signature policy: no such file or directory/.test(e.message));
    await assert.rejects(loadPolicyFile(dir), (e: unknown) => e instanceof ConfigFileError && /it is a directory/.test(e.message));
  });
});

describe('requirementsFor', () => {
  const scopes = {
    'registry.example.com:5000/team/app:1': [{ type: 'insecureAcceptAnything' }],
    [`registry.example.com:5000/team/app@${DIGEST}`]: [{ type: 'signedBy', keyType: 'GPGKeys', keyData: KEY }],
    'registry.example.com:5000/team/app': [{ type: 'reject' }],
    'registry.example.com:5000/team': [{ type: 'sigstoreSigned', keyData: KEY }],
    'registry.example.com:5000': [{ type: 'insecureAcceptAnything' }],
    '*.example.com': [{ type: 'reject' }],
    '*.com': [{ type: 'insecureAcceptAnything' }],
    'docker.io/library/busybox': [{ type: 'reject' }],
    '': [{ type: 'sigstoreSigned', keyData: KEY }],
  };
  const policy = parsePolicy(withDocker(scopes), FILE);
  const scopeOf = (ref: string) => requirementsFor(policy, Reference.parse(ref)).scope;

  test('the most specific scope wins: tag or digest, repository, namespaces, host:port, wildcard domains, "", default', () => {
    assert.equal(scopeOf('registry.example.com:5000/team/app:1'), 'registry.example.com:5000/team/app:1');
    assert.equal(scopeOf(`registry.example.com:5000/team/app@${DIGEST}`), `registry.example.com:5000/team/app@${DIGEST}`);
    assert.equal(scopeOf(`registry.example.com:5000/team/app:1@${DIGEST}`), `registry.example.com:5000/team/app@${DIGEST}`, 'the digest is more specific than the tag');
    assert.equal(scopeOf('registry.example.com:5000/team/app:2'), 'registry.example.com:5000/team/app');
    assert.equal(scopeOf('registry.example.com:5000/team/other/deep:2'), 'registry.example.com:5000/team');
    assert.equal(scopeOf('registry.example.com:5000/solo:2'), 'registry.example.com:5000');
    assert.equal(scopeOf('registry.example.com/team/app:1'), '*.example.com', 'another port is another host scope');
    assert.equal(scopeOf('mirror.sub.example.com/x:1'), '*.example.com');
    assert.equal(scopeOf('quay.io/x:1'), '', 'no *.io scope: the transport-wide one');
    assert.equal(scopeOf('other.com/x:1'), '*.com');
    assert.equal(scopeOf('docker.io/busybox:1'), 'docker.io/library/busybox', 'Docker Hub names are normalised as c/image does');
    const noTransportDefault = parsePolicy(withDocker({ 'quay.io': [{ type: 'reject' }] }, [{ type: 'insecureAcceptAnything' }]), FILE);
    assert.deepEqual(requirementsFor(noTransportDefault, Reference.parse('ghcr.io/a/b:1')), { scope: 'default', requirements: [{ type: 'insecureAcceptAnything' }] });
  });

  test('candidateScopes lists the namespaces as c/image does', () => {
    assert.deepEqual(candidateScopes(Reference.parse('a.b.example.com:5000/ns/repo:1')), [
      'a.b.example.com:5000/ns/repo:1',
      'a.b.example.com:5000/ns/repo',
      'a.b.example.com:5000/ns',
      'a.b.example.com:5000',
      '*.b.example.com',
      '*.example.com',
      '*.com',
    ]);
  });

  test('needsSignatures tells the caller which signatures to fetch', () => {
    const reqs = (ref: string) => requirementsFor(policy, Reference.parse(ref)).requirements;
    assert.deepEqual(needsSignatures(reqs('registry.example.com:5000/team/app:1')), { simple: false, sigstore: false });
    assert.deepEqual(needsSignatures(reqs(`registry.example.com:5000/team/app@${DIGEST}`)), { simple: true, sigstore: false });
    assert.deepEqual(needsSignatures(reqs('registry.example.com:5000/team/x:1')), { simple: false, sigstore: true });
    assert.deepEqual(needsSignatures(reqs('registry.example.com:5000/team/app:9')), { simple: false, sigstore: false });
  });

  test('reject by default, accepted for one scope', async () => {
    const p = parsePolicy(withDocker({ 'quay.io/acme': [{ type: 'insecureAcceptAnything' }] }), FILE);
    const none = { simple: [], sigstore: [] };
    const signal = new AbortController().signal;
    assert.deepEqual(await evaluate(p, Reference.parse('quay.io/acme/app:1'), DIGEST, none, signal), [{ scope: 'quay.io/acme', requirement: 'insecureAcceptAnything', keys: [] }]);
    await assert.rejects(evaluate(p, Reference.parse('quay.io/other/app:1'), DIGEST, none, signal), /^SourceError: quay\.io\/other\/app:1: rejected by \/etc\/containers\/policy\.json \(default requirements, reject\)/);
    const mixed = parsePolicy(withDocker({ 'quay.io/acme': [{ type: 'insecureAcceptAnything' }, { type: 'reject' }] }), FILE);
    await assert.rejects(evaluate(mixed, Reference.parse('quay.io/acme/app:1'), DIGEST, none, signal), /\(scope "quay\.io\/acme", reject\)/, 'every requirement must accept');
  });
});

describe('strict JSON reading', () => {
  test('values decode as JSON.parse does; "__proto__" is plain data; duplicates and trailing data are refused', async () => {
    const { parseStrictJson, StrictJsonError } = await import('../../src/policy/strict-json.js');
    const v = parseStrictJson(' {"a": [1, -2.5e3, true, null, "\\u00e9\\n"], "__proto__": {"x": {}}} ');
    assert.ok(v instanceof Map);
    assert.deepEqual(v.get('a'), [1, -2500, true, null, 'é\n']);
    assert.ok(v.get('__proto__') instanceof Map);
    assert.throws(() => parseStrictJson('{"a": {"b": 1, "b": 2}}'), (e: unknown) => e instanceof StrictJsonError && e.path === 'a' && /key "b" appears twice/.test(e.message));
    assert.throws(() => parseStrictJson('{} {}'), /unexpected data after the JSON value/);
    assert.throws(() => parseStrictJson('{"a": 01}'), /expected "," or "}"/);
    assert.throws(() => parseStrictJson('"tab\there"'), /unexpected character/);
    assert.throws(() => parseStrictJson('['.repeat(100) + ']'.repeat(100)), /nested deeper than 64 levels/);
  });
});
