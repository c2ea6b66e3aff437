import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseXml } from '../../src/description/xml.js';

function parsed(text: string) {
  const r = parseXml(text);
  assert.ok(r.ok, `expected to parse: ${JSON.stringify(!r.ok && r.problems)}`);
  return r.root;
}

describe('parseXml', () => {
  test('gives every element its path (index among same-name siblings) and line', () => {
    const root = parsed(`<?xml version="1.0"?>
<image>
  <containers source="a">
    <container name="x"/>
  </containers>
  <packages/>
  <containers source="b">
    <container name="y"/>
    <container
        name="z"
        tag="1"/>
  </containers>
</image>`);
    assert.equal(root.path, '/image');
    assert.equal(root.line, 2);
    const second = root.children[2]!;
    assert.equal(second.path, '/image/containers[2]');
    assert.equal(second.line, 7);
    const z = second.children[1]!;
    assert.equal(z.path, '/image/containers[2]/container[2]');
    assert.equal(z.line, 9);
    assert.equal(z.attrLines.name, 10);
    assert.equal(z.attrLines.tag, 11);
    assert.deepEqual(z.attrs, { name: 'z', tag: '1' });
  });

  test('decodes the predefined entities in attributes and text', () => {
    const root = parsed('<image a="x &amp; &lt;y&gt; &quot;q&quot;"><author>A &amp; B</author></image>');
    assert.equal(root.attrs.a, 'x & <y> "q"');
    assert.equal(root.children[0]!.text, 'A & B');
  });

  test('refuses a DOCTYPE with its line, before any entity is expanded', () => {
    const r = parseXml('<?xml version="1.0"?>\n<!DOCTYPE image [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n<image name="&b;"/>');
    assert.equal(r.ok, false);
    assert.ok(!r.ok);
    assert.match(r.problems[0]!.message, /DOCTYPE/);
    assert.equal(r.problems[0]!.line, 2);
  });

  test('refuses a DOCTYPE hidden after a comment and in lower case', () => {
    const r = parseXml('<!-- hi -->\n<!doctype image SYSTEM "file:///etc/passwd">\n<image/>');
    assert.equal(r.ok, false);
  });

  test('reports not well-formed XML with line and column', () => {
    const r = parseXml('<image>\n  <containers>\n  </image>');
    assert.ok(!r.ok);
    assert.equal(r.problems[0]!.line, 3);
    assert.match(r.problems[0]!.message, /not well-formed XML: .*line 3, column \d+/);
  });

  test('accepts a byte order mark and comments around the root', () => {
    const root = parsed('\uFEFF<?xml version="1.0"?><!-- a --><image name="x"/><!-- b -->');
    assert.equal(root.attrs.name, 'x');
  });
});
