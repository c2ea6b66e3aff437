// Builds small descriptions for tests: a valid frame around the parts a test cares about.
export function describe_(body: string, options: { schemaversion?: string; name?: string } = {}): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<image schemaversion="${options.schemaversion ?? '8.5'}" name="${options.name ?? 'test'}">
  <description type="system">
    <author>Test</author>
    <contact>test@example.org</contact>
    <specification>test</specification>
  </description>
  <preferences>
    <version>1.0.0</version>
    <packagemanager>zypper</packagemanager>
    <type image="oem" filesystem="ext4"/>
  </preferences>
${body}
</image>
`;
}
export { describe_ as description };
