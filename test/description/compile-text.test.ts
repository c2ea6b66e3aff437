// compileText edits a description as text: <containers> out, one <archive>
// in, every other byte as the author wrote it. Each case gives the input and
// the exact output.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { archiveNames, compileText, scanElements } from '../../src/description/compile-text.js';
import { checkDescriptionText } from '../../src/description/validate.js';
import { REPO } from '../helpers/cli.js';

const A = 'imgdesc-containers.tar';
const ARCHIVE = `<archive name="${A}"/>`;

interface Case {
  name: string;
  input: string;
  output: string;
  removed: number;
  placed: 'existing' | 'new';
}

const CASES: Case[] = [
  {
    name: 'a section on its own lines goes with its lines; the archive ends the unconditional image packages',
    input: `<image schemaversion="8.5" name="t">
    <repository type="rpm-md"><source path="obs://x"/></repository>
    <containers source="r.example.org" backend="podman">
        <container name="a"/>
    </containers>
    <packages type="image">
        <package name="podman"/>
    </packages>
</image>
`,
    output: `<image schemaversion="8.5" name="t">
    <repository type="rpm-md"><source path="obs://x"/></repository>
    <packages type="image">
        <package name="podman"/>
        ${ARCHIVE}
    </packages>
</image>
`,
    removed: 1,
    placed: 'existing',
  },
  {
    name: 'comments, a <containers> inside a comment, CDATA and a PI stay byte for byte; ">" inside attribute values',
    input: `<?xml version="1.0"?>
<!-- top: <containers source="x" backend="podman"/> -->
<image   schemaversion = '8.5'
         name="t"   >
  <description type="system"><specification><![CDATA[ <containers source="c"> ]]></specification></description>
  <!-- <containers source="in-a-comment" backend="docker">
         <container name="kept"/>
       </containers> -->
  <containers source="r.example.org" backend="podman" profiles="a" note="x > y">
    <container name="gt" tag="1" arch="x86_64" comment='</containers>'/>
  </containers>
  <?imgdesc <containers/> ?>
  <packages type='image'   >  <!-- odd   spacing -->
      <package  name="a>b"  />
  </packages>
</image>`,
    output: `<?xml version="1.0"?>
<!-- top: <containers source="x" backend="podman"/> -->
<image   schemaversion = '8.5'
         name="t"   >
  <description type="system"><specification><![CDATA[ <containers source="c"> ]]></specification></description>
  <!-- <containers source="in-a-comment" backend="docker">
         <container name="kept"/>
       </containers> -->
  <?imgdesc <containers/> ?>
  <packages type='image'   >  <!-- odd   spacing -->
      <package  name="a>b"  />
      ${ARCHIVE}
  </packages>
</image>`,
    removed: 1,
    placed: 'existing',
  },
  {
    name: 'several sections, self-closing and with children; blank lines between them do not pile up',
    input: `<image>
    <users/>

    <containers source="a" backend="podman"/>

    <containers source="b" backend="docker">
        <container name="x"/>
    </containers>

    <!-- kept -->
    <containers source="c" backend="podman"><container name="y"/></containers>

    <packages type="image">
        <package name="p"/>
    </packages>
</image>
`,
    output: `<image>
    <users/>

    <!-- kept -->

    <packages type="image">
        <package name="p"/>
        ${ARCHIVE}
    </packages>
</image>
`,
    removed: 3,
    placed: 'existing',
  },
  {
    name: 'a section sharing its line with other elements leaves them, and no stray spaces',
    input: `<image>
    <users/>  <containers source="a" backend="podman"/>
    <containers source="b" backend="podman"/><packages type="image"><package name="p"/></packages>
</image>`,
    output: `<image>
    <users/>
    <packages type="image"><package name="p"/>
    ${ARCHIVE}</packages>
</image>`,
    removed: 2,
    placed: 'existing',
  },
  {
    name: 'two sections sharing a line of their own take the line; the blank line after them stays',
    input: `<image>
    <users/>
    <containers source="a" backend="podman">
        <container name="x"/>
    </containers>
    <containers source="b" backend="podman"/> <containers source="c" backend="docker"/>

    <packages type="image"/>
</image>`,
    output: `<image>
    <users/>

    <packages type="image">
        ${ARCHIVE}
    </packages>
</image>`,
    removed: 3,
    placed: 'existing',
  },
  {
    name: 'adjacent sections between blank lines leave one blank line; a section right after another keeps the blank line after it',
    input: `<image>
    <users/>

    <containers source="a" backend="podman"/>
    <containers source="b" backend="podman"/>

    <repository type="rpm-md"/>
    <containers source="c" backend="podman">
    </containers>
    <containers source="d" backend="podman"/>

    <packages type="image"/>
</image>`,
    output: `<image>
    <users/>

    <repository type="rpm-md"/>

    <packages type="image">
        ${ARCHIVE}
    </packages>
</image>`,
    removed: 4,
    placed: 'existing',
  },
  {
    name: 'profile-conditional packages are not chosen; the unconditional one after them is',
    input: `<image>
    <packages type="image" profiles="debug">
        <package name="strace"/>
    </packages>
    <packages type="image" arch="x86_64">
        <package name="grub"/>
    </packages>
    <packages type="image">
        <package name="systemd"/>
    </packages>
    <packages type="bootstrap">
        <package name="filesystem"/>
    </packages>
    <containers source="a" backend="podman">
        <container name="x"/>
    </containers>
</image>
`,
    output: `<image>
    <packages type="image" profiles="debug">
        <package name="strace"/>
    </packages>
    <packages type="image" arch="x86_64">
        <package name="grub"/>
    </packages>
    <packages type="image">
        <package name="systemd"/>
        ${ARCHIVE}
    </packages>
    <packages type="bootstrap">
        <package name="filesystem"/>
    </packages>
</image>
`,
    removed: 1,
    placed: 'existing',
  },
  {
    name: 'only conditional image packages: a new section after the last <packages>, in the file\'s indentation',
    input: `<image>
  <repository type="rpm-md">
    <source path="obs://x"/>
  </repository>
  <containers source="a" backend="podman">
    <container name="x"/>
  </containers>
  <packages type="image" profiles="base">
    <package name="p"/>
  </packages>
  <packages type="bootstrap">
    <package name="filesystem"/>
  </packages> <!-- trailing note -->
  <extension/>
</image>
`,
    output: `<image>
  <repository type="rpm-md">
    <source path="obs://x"/>
  </repository>
  <packages type="image" profiles="base">
    <package name="p"/>
  </packages>
  <packages type="bootstrap">
    <package name="filesystem"/>
  </packages> <!-- trailing note -->
  <packages type="image">
    ${ARCHIVE}
  </packages>
  <extension/>
</image>
`,
    removed: 1,
    placed: 'new',
  },
  {
    name: 'no <packages> at all: the new section follows the last element KIWI orders before packages; tabs stay tabs',
    input: `<image>
\t<description type="system">
\t\t<author>a</author>
\t</description>
\t<repository type="rpm-md"><source path="obs://x"/></repository>
\t<containers source="a" backend="podman"><container name="x"/></containers>
</image>
`,
    output: `<image>
\t<description type="system">
\t\t<author>a</author>
\t</description>
\t<repository type="rpm-md"><source path="obs://x"/></repository>
\t<packages type="image">
\t\t${ARCHIVE}
\t</packages>
</image>
`,
    removed: 1,
    placed: 'new',
  },
  {
    name: 'a self-closing unconditional <packages type="image"/> is opened',
    input: `<image>
   <packages type="image"/>
   <containers source="a" backend="podman"><container name="x"/></containers>
</image>`,
    output: `<image>
   <packages type="image">
      ${ARCHIVE}
   </packages>
</image>`,
    removed: 1,
    placed: 'existing',
  },
  {
    name: 'an empty section on one line is opened over three',
    input: `<image>
    <packages type="image"></packages>
</image>`,
    output: `<image>
    <packages type="image">
        ${ARCHIVE}
    </packages>
</image>`,
    removed: 0,
    placed: 'existing',
  },
  {
    name: 'an empty section over two lines keeps its closing line',
    input: `<image>
    <packages type="image">
    </packages>
</image>`,
    output: `<image>
    <packages type="image">
        ${ARCHIVE}
    </packages>
</image>`,
    removed: 0,
    placed: 'existing',
  },
  {
    name: 'CRLF line endings stay CRLF',
    input: '<image>\r\n  <containers source="a" backend="podman">\r\n    <container name="x"/>\r\n  </containers>\r\n  <packages type="image">\r\n    <package name="p"/>\r\n  </packages>\r\n</image>\r\n',
    output: `<image>\r\n  <packages type="image">\r\n    <package name="p"/>\r\n    ${ARCHIVE}\r\n  </packages>\r\n</image>\r\n`,
    removed: 1,
    placed: 'existing',
  },
  {
    name: 'a comment after the last package stays before the archive; entity-encoded type still matches',
    input: `<image>
    <packages type="&#105;mage">
        <package name="p"/> <!-- why p -->
    </packages>
</image>`,
    output: `<image>
    <packages type="&#105;mage">
        <package name="p"/> <!-- why p -->
        ${ARCHIVE}
    </packages>
</image>`,
    removed: 0,
    placed: 'existing',
  },
];

describe('compileText', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const r = compileText(c.input, A);
      assert.equal(r.text, c.output);
      assert.equal(r.removed, c.removed);
      assert.equal(r.placed, c.placed);
    });
  }

  test('the shipped examples lose exactly their <containers> lines and gain one line, and stay valid', () => {
    for (const file of ['examples/appliance.xml', 'examples/docker-appliance.kiwi', 'examples/snap-appliance/config.xml']) {
      const input = readFileSync(`${REPO}${file}`, 'utf8');
      const { text } = compileText(input, A);
      const before = input.split('\n');
      const after = text.split('\n');
      const added = after.filter((l) => !before.includes(l));
      assert.deepEqual(added.map((l) => l.trim()), [ARCHIVE], file);
      const kept = before.filter((l) => after.includes(l));
      const gone = before.filter((l) => !after.includes(l)).map((l) => l.trim());
      assert.ok(gone.every((l) => /^<\/?containers[ >]|^<container /.test(l)), `${file}: ${gone.join('\n')}`);
      assert.deepEqual(after.filter((l) => !added.includes(l)), kept, `${file}: order kept`);
      const check = checkDescriptionText(text);
      assert.deepEqual(check.problems, [], file);
      assert.ok(!check.root!.children.some((e) => e.name === 'containers'));
    }
  });

  test('refuses what is not one well-formed <image> document', () => {
    assert.throws(() => compileText('<image><packages></image>', A), /closes nothing open|well-formed/);
    assert.throws(() => compileText('<other/>', A), /not <image>/);
    assert.throws(() => compileText('<image a="x></image>', A), /unterminated/);
  });
});

describe('scanElements', () => {
  test('gives the exact span of every direct child of <image>', () => {
    const text = `<image><!-- <x/> --><a k="1>2"/>\n <b>\n<c/></b><?p <d/>?><e><![CDATA[</e>]]></e></image>`;
    const image = scanElements(text);
    assert.deepEqual(
      image.children.map((c) => text.slice(c.start, c.end)),
      ['<a k="1>2"/>', '<b>\n<c/></b>', '<e><![CDATA[</e>]]></e>'],
    );
    assert.deepEqual(image.children[0]!.attrs, { k: '1>2' });
    const b = image.children[1]!;
    assert.equal(text.slice(b.openEnd, b.closeStart), '\n<c/>');
  });

  test('archiveNames lists the archives of every <packages>', () => {
    const text = '<image><packages type="image"><archive name="a.tar"/></packages><packages type="bootstrap"><archive name="b &amp; c.tar"/></packages></image>';
    assert.deepEqual(archiveNames(text), ['a.tar', 'b & c.tar']);
  });
});
