import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { validateDescriptionText } from '../../src/description/validate.js';
import { REPO } from '../helpers/cli.js';
import { description } from '../helpers/descriptions.js';

const problems = (text: string) => validateDescriptionText(text);

function lineOf(text: string, needle: string): number {
  return text.slice(0, text.indexOf(needle)).split('\n').length;
}

describe('schema: <containers>', () => {
  test('a valid section passes', () => {
    assert.deepEqual(
      problems(description('<containers source="r.example.org" backend="docker" profiles="" arch="x86_64"><container name="a" path="p" tag="1" fetch_only="1" arch="aarch64"/></containers>')),
      [],
    );
  });

  test('a misspelt <contaners> is an error with path, line and a suggestion', () => {
    const text = description('  <contaners source="r" backend="podman"><container name="a"/></contaners>');
    const [p, ...rest] = problems(text);
    assert.deepEqual(rest, []);
    assert.equal(p!.path, '/image/contaners[1]');
    assert.equal(p!.line, lineOf(text, '<contaners'));
    assert.match(p!.message, /unknown element <contaners> in <image>; did you mean <containers>\?/);
  });

  test('source and backend are required, backend has three values', () => {
    const text = description('<containers><container name="a"/></containers>\n<containers source="r" backend="lxc"><container name="b"/></containers>');
    const found = problems(text).map((p) => `${p.path}: ${p.message}`);
    assert.ok(found.includes('/image/containers[1]: <containers> is missing the required attribute "source"'), found.join('\n'));
    assert.ok(found.includes('/image/containers[1]: <containers> is missing the required attribute "backend"'), found.join('\n'));
    assert.ok(found.some((m) => /^\/image\/containers\[2\]\/@backend: "lxc" is not allowed here; allowed: "podman", "docker", "container-snap"$/.test(m)), found.join('\n'));
  });

  test('a section needs at least one <container>', () => {
    const [p] = problems(description('<containers source="r" backend="podman"/>'));
    assert.equal(p!.path, '/image/containers[1]');
    assert.match(p!.message, /<container>/);
  });

  test('unknown attributes and children of <container> are errors', () => {
    const text = description('<containers source="r" backend="podman">\n<container name="a" tags="1" use_with="docker"><x/></container>\n</containers>');
    const found = problems(text);
    const paths = found.map((p) => p.path).sort();
    assert.deepEqual(paths, ['/image/containers[1]/container[1]/@tags', '/image/containers[1]/container[1]/@use_with', '/image/containers[1]/container[1]/x[1]']);
    assert.match(found.find((p) => p.path.endsWith('@tags'))!.message, /did you mean "tag"/);
    for (const p of found) assert.equal(p.line, lineOf(text, '<container name'));
  });

  test('fetch_only is an xsd:boolean', () => {
    for (const ok of ['true', 'false', '1', '0']) {
      assert.deepEqual(problems(description(`<containers source="r" backend="podman"><container name="a" fetch_only="${ok}"/></containers>`)), [], ok);
    }
    const [p] = problems(description('<containers source="r" backend="podman"><container name="a" fetch_only="yes"/></containers>'));
    assert.equal(p!.path, '/image/containers[1]/container[1]/@fetch_only');
    assert.match(p!.message, /"yes" is not allowed here; allowed: "true", "false", "1", "0"/);
  });

  test('name is required on <container>', () => {
    const [p] = problems(description('<containers source="r" backend="podman"><container tag="1"/></containers>'));
    assert.equal(p!.path, '/image/containers[1]/container[1]');
    assert.match(p!.message, /missing the required attribute "name"/);
  });

  test('every problem is reported in one run, ordered by line', () => {
    const text = description(`<contaners/>
<containers source="r" backend="x"><container name="A" tag="-"/></containers>
<containers source="https://r" backend="podman"><container name="a" fetch_only="2"/></containers>`);
    const found = problems(text);
    assert.ok(found.length >= 6, found.map((p) => p.message).join('\n'));
    const lines = found.map((p) => p.line ?? 0);
    assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
  });
});

describe('schema: the rest of a KIWI description', () => {
  test('an unknown attribute on <type> names the allowed ones', () => {
    const text = description('').replace('<type image="oem" filesystem="ext4"/>', '<type image="oem" filesystem="ext4" filesytem_check="true"/>');
    const [p] = problems(text);
    assert.equal(p!.path, '/image/preferences[1]/type[1]/@filesytem_check');
    assert.match(p!.message, /unknown attribute "filesytem_check" on <type>.*\(allowed: .*filesystem/);
  });

  test('a wrong enumerated value names the allowed values', () => {
    const text = description('').replace('<packagemanager>zypper</packagemanager>', '<packagemanager>yum</packagemanager>');
    const [p] = problems(text);
    assert.equal(p!.path, '/image/preferences[1]/packagemanager[1]/text()');
    assert.match(p!.message, /"yum" is not allowed here; allowed: .*"zypper"/);
  });

  test('namespace declarations and the xsi schema location are accepted on <image>', () => {
    const text = description('').replace(
      '<image schemaversion',
      '<image xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="kiwi.xsd" schemaversion',
    );
    assert.deepEqual(problems(text), []);
  });

  test('a renamed attribute gets the new name as a hint even when far in spelling', () => {
    const text = description('').replace('<type image="oem" filesystem="ext4"/>', '<type image="oem" filesystem="btrfs" btrfs_root_is_snapshot="true"/>');
    assert.match(problems(text)[0]!.message, /did you mean "btrfs_root_is_snapper_snapshot"\?/);
  });

  test('the root must be <image>', () => {
    const [p] = problems('<imag schemaversion="8.5" name="x"/>');
    assert.match(p!.message, /root element must be <image>/);
  });

  test('the description shipped as examples validate', () => {
    for (const f of ['examples/appliance.xml', 'examples/docker-appliance.kiwi', 'examples/snap-appliance/config.xml']) {
      assert.deepEqual(problems(readFileSync(join(REPO, f), 'utf8')), [], f);
    }
  });

  test('the realistic fixture descriptions validate', () => {
    const dir = join(REPO, 'test/fixtures/descriptions/valid');
    const files = readdirSync(dir);
    assert.ok(files.length >= 3);
    for (const f of files) assert.deepEqual(problems(readFileSync(join(dir, f), 'utf8')), [], f);
  });

  // KIWI's own build-tests are the acceptance bar for the schema. They are not
  // redistributed here; point KIWI_BUILD_TESTS at a checkout's build-tests/.
  const kiwiTests = process.env.KIWI_BUILD_TESTS;
  test('every description in KIWI build-tests validates', { skip: kiwiTests ? false : 'set KIWI_BUILD_TESTS=<kiwi checkout>/build-tests' }, () => {
    const walk = (d: string): string[] =>
      readdirSync(d).flatMap((n) => {
        const p = join(d, n);
        return statSync(p).isDirectory() ? walk(p) : n.endsWith('.kiwi') || n === 'config.xml' ? [p] : [];
      });
    const files = walk(kiwiTests!);
    assert.ok(files.length > 50, `only ${files.length} descriptions found`);
    const failures = files.flatMap((f) => problems(readFileSync(f, 'utf8')).map((p) => `${f}:${p.line}: ${p.path}: ${p.message}`));
    assert.deepEqual(failures, []);
  });
});
