// Generates a large, valid description: N containers spread over P profiles,
// with arch filters, fetch_only entries and requires chains.
export function generateDescription(containers: number, profiles: number): string {
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="utf-8"?>');
  out.push('<image schemaversion="8.5" name="bench-appliance">');
  out.push('  <description type="system"><author>bench</author><contact>bench@example.org</contact><specification>bench</specification></description>');
  out.push('  <profiles>');
  for (let p = 0; p < profiles; p++) {
    out.push(`    <profile name="p${p}" description="profile ${p}"${p % 10 === 0 ? ' import="true"' : ''}${p % 7 === 3 ? ' arch="aarch64,x86_64"' : ''}>`);
    if (p > 0) out.push(`      <requires profile="p${p - 1}"/>`);
    out.push('    </profile>');
  }
  out.push('  </profiles>');
  out.push('  <preferences><version>1.0.0</version><packagemanager>zypper</packagemanager><type image="oem" filesystem="ext4"/></preferences>');
  const perSection = Math.ceil(containers / profiles);
  let n = 0;
  for (let p = 0; p < profiles && n < containers; p++) {
    const backend = ['podman', 'docker', 'container-snap'][p % 3];
    out.push(`  <containers source="registry${p % 5}.example.org:5000/team${p}" backend="${backend}" profiles="p${p}">`);
    for (let i = 0; i < perSection && n < containers; i++, n++) {
      const arch = n % 9 === 0 ? ' arch="aarch64"' : n % 4 === 0 ? ' arch="x86_64,aarch64"' : '';
      out.push(`    <container name="app${n}" path="apps/group${i % 8}" tag="v${n}.${i}"${n % 11 === 0 ? ' fetch_only="true"' : ''}${arch}/>`);
    }
    out.push('  </containers>');
  }
  out.push('</image>');
  return `${out.join('\n')}\n`;
}
