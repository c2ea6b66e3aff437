// Media types of the manifests and blobs imgdesc reads and writes.
export const MediaType = Object.freeze({
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
});

export const INDEX_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];
export const MANIFEST_TYPES: readonly string[] = [MediaType.OciManifest, MediaType.DockerManifest];

/** What we ask registries for, most wanted first. */
export const MANIFEST_ACCEPT = [MediaType.OciIndex, MediaType.DockerManifestList, MediaType.OciManifest, MediaType.DockerManifest].join(', ');

/** Manifests are small documents; anything larger is refused (as containers/image does). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Image configs are JSON documents too; same bound. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** The annotation an OCI layout's index.json names an image by. */
export const REF_NAME = 'org.opencontainers.image.ref.name';
/** containerd's (and `podman load`'s) name annotation. */
export const CONTAINERD_NAME = 'io.containerd.image.name';
