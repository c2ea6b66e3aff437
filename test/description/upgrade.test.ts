import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateDescriptionText } from '../../src/description/validate.js';
import { description } from '../helpers/descriptions.js';

/** A description whose <preferences> type/bootloader carry the given attributes. */
function withType(version: string, typeAttrs: string, bootloaderAttrs = '', packagemanager = 'zypper') {
  return `<?xml version="1.0"?>
<image schemaversion="${version}" name="t">
  <description type="system"><author>a</author><contact>c</contact><specification>s</specification></description>
  <preferences>
    <version>1</version>
    <packagemanager>${packagemanager}</packagemanager>
    <type image="oem" filesystem="btrfs" ${typeAttrs}>
      <bootloader name="grub2" ${bootloaderAttrs}/>
    </type>
  </preferences>
</image>`;
}

const messages = (text: string) => validateDescriptionText(text).map((p) => `${p.path}: ${p.message}`);

describe('schema versions 7.4 to 8.5', () => {
  test('accepts every known version for a description without renamed parts', () => {
    for (const v of ['7.4', '7.5', '7.6', '8.0', '8.1', '8.2', '8.3', '8.4', '8.5']) {
      assert.deepEqual(messages(description('', { schemaversion: v })), [], v);
    }
  });

  test('refuses versions outside 7.4..8.5 and names the allowed ones', () => {
    for (const v of ['7.3', '6.9', '9.0', '8.6', 'abc']) {
      const m = messages(description('', { schemaversion: v }));
      assert.equal(m.length, 1, v);
      assert.match(m[0]!, /^\/image\/@schemaversion: schemaversion ".*" is not supported; allowed: 7\.4, 7\.5/);
    }
  });

  test('btrfs_root_is_snapshot is the pre-8.3 spelling', () => {
    assert.deepEqual(messages(withType('8.2', 'btrfs_root_is_snapshot="true"')), []);
    const m = messages(withType('8.3', 'btrfs_root_is_snapshot="true"'));
    assert.equal(m.length, 1);
    assert.match(m[0]!, /unknown attribute "btrfs_root_is_snapshot".*did you mean "btrfs_root_is_snapper_snapshot"/);
    assert.deepEqual(messages(withType('8.3', 'btrfs_root_is_snapper_snapshot="true"')), []);
  });

  test('bootloader console is the pre-8.4 spelling of output_console/input_console', () => {
    assert.deepEqual(messages(withType('8.3', '', 'console="serial console"')), []);
    assert.equal(messages(withType('8.4', '', 'console="serial"')).length, 1);
    assert.deepEqual(messages(withType('8.4', '', 'output_console="serial" input_console="console"')), []);
  });

  test('an old console value is still checked after conversion', () => {
    const m = messages(withType('8.3', '', 'console="teletype"'));
    assert.equal(m.length, 1);
    assert.match(m[0]!, /output_console/);
  });

  test('type vga was accepted up to 8.4', () => {
    assert.deepEqual(messages(withType('8.4', 'vga="0x344"')), []);
    assert.match(messages(withType('8.5', 'vga="0x344"'))[0]!, /unknown attribute "vga"/);
  });

  test('packagemanager dnf means dnf4 before 7.6', () => {
    assert.deepEqual(messages(withType('7.5', '', '', 'dnf')), []);
    assert.match(messages(withType('7.6', '', '', 'dnf'))[0]!, /"dnf" is not allowed here; allowed: .*"dnf4"/);
  });

  test('containerconfig additionaltags became additionalnames in 7.5', () => {
    const doc = (v: string, attr: string) => `<?xml version="1.0"?>
<image schemaversion="${v}" name="t">
  <description type="system"><author>a</author><contact>c</contact><specification>s</specification></description>
  <preferences>
    <version>1</version>
    <packagemanager>zypper</packagemanager>
    <type image="docker"><containerconfig name="c" tag="1" ${attr}/></type>
  </preferences>
</image>`;
    assert.deepEqual(messages(doc('7.4', 'additionaltags="a,b"')), []);
    assert.match(messages(doc('7.5', 'additionaltags="a,b"'))[0]!, /unknown attribute "additionaltags"/);
    assert.deepEqual(messages(doc('7.5', 'additionalnames=":a,:b"')), []);
  });

  test('repository use_for_bootstrap and type="rpm-dir" are accepted only where KIWI dropped them', () => {
    const repo = (v: string, attrs: string) => description(`<repository ${attrs}><source path="obs://x"/></repository>`, { schemaversion: v });
    assert.deepEqual(messages(repo('8.1', 'use_for_bootstrap="true"')), []);
    assert.match(messages(repo('8.2', 'use_for_bootstrap="true"'))[0]!, /unknown attribute "use_for_bootstrap"/);
    assert.deepEqual(messages(repo('8.0', 'type="rpm-dir"')), []);
    assert.match(messages(repo('8.1', 'type="rpm-dir"'))[0]!, /"rpm-dir" is not allowed here/);
  });
});
