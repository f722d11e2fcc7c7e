# make_base_image CACHE_DIR TAG: the Debian bookworm base of the images, made with mmdebstrap
# (the rootfs tar cached in CACHE_DIR) and imported into buildah as TAG unless it is there.
# Uses the caller's `buildah` array (its storage options) and `step`; scripts/base-image and
# scripts/image-test call it.
# What debian:bookworm-slim has that the image needs, plus libffi8 and ca-certificates so the
# Dockerfile's install step has nothing to fetch; documentation and locales left out as in -slim.
# The merged-usr hook merges /usr as debian:bookworm-slim has it, without the usrmerge package
# (which would bring in perl, about 50 MB).
make_base_image() {
    local cache="$1" tag="$2"
    local packages="passwd,libffi8,ca-certificates"
    local base_tar="$cache/bookworm-minbase-mergedusr-${packages//,/-}.tar"
    if [ ! -s "$base_tar" ]; then
        step "making the Debian bookworm base with mmdebstrap (cached in $base_tar)"
        mkdir -p "$cache"
        nice -n 10 timeout 600 mmdebstrap --quiet --variant=minbase --include="$packages" \
            --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
            --dpkgopt='path-exclude=/usr/share/info/*' \
            --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
            bookworm "${base_tar%.tar}.partial.tar"
        mv "${base_tar%.tar}.partial.tar" "$base_tar"
        "${buildah[@]}" rmi "$tag" >/dev/null 2>&1 || true
    fi
    if ! "${buildah[@]}" inspect --type image "$tag" >/dev/null 2>&1; then
        step "importing the base into buildah as $tag"
        local ctr
        ctr="$("${buildah[@]}" from scratch)"
        if ! { nice -n 10 "${buildah[@]}" add "$ctr" "$base_tar" / >/dev/null \
               && "${buildah[@]}" config --cmd /bin/bash "$ctr" \
               && "${buildah[@]}" commit --quiet --rm "$ctr" "$tag" >/dev/null; }; then
            "${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true
            return 1
        fi
    fi
}
