#include "parley_vips.h"

#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

static void take_error(char *err, size_t errlen, const char *what) {
    const char *buffer = vips_error_buffer();
    snprintf(err, errlen, "%s: %s", what, buffer && *buffer ? buffer : "unknown error");
    /* Drop the trailing newline libvips leaves. */
    size_t n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' ')) err[--n] = 0;
    vips_error_clear();
}

int parley_vips_init(const char *argv0, int concurrency, char *err, size_t errlen) {
    if (VIPS_INIT(argv0) != 0) {
        take_error(err, errlen, "vips_init");
        return -1;
    }
    /* The block list is checked when a loader runs, so blocking the base class and unblocking
     * the few wanted subclasses is an allow-list. */
    vips_operation_block_set("VipsForeignLoad", TRUE);
    static const char *allowed[] = {
        "VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadNsgif",
        "VipsForeignLoadWebp", "VipsForeignLoadPdf",
    };
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) vips_operation_block_set(allowed[i], FALSE);
    if (concurrency > 0) vips_concurrency_set(concurrency);
    /* Each upload is decoded once; caching operations would only hold memory. */
    vips_cache_set_max(0);
    return 0;
}

int parley_vips_probe(const char *path, int *width, int *height, int *pages, int *orientation, char *err, size_t errlen) {
    VipsImage *image = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!image) {
        take_error(err, errlen, "open");
        return -1;
    }
    *width = vips_image_get_width(image);
    *height = vips_image_get_height(image);
    *pages = vips_image_get_n_pages(image);
    *orientation = vips_image_get_orientation(image);
    g_object_unref(image);
    return 0;
}

int parley_vips_sanitize(const char *path, int all_pages, const char *out_path, char *err, size_t errlen) {
    VipsImage *in = all_pages
        ? vips_image_new_from_file(path, "n", -1, "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL)
        : vips_image_new_from_file(path, "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL);
    if (!in) {
        take_error(err, errlen, "open");
        return -1;
    }
    VipsImage *upright = NULL;
    if (all_pages) {
        upright = in;
        g_object_ref(upright);
    } else if (vips_autorot(in, &upright, NULL) != 0) {
        g_object_unref(in);
        take_error(err, errlen, "autorot");
        return -1;
    }
    g_object_unref(in);
    /* "strip" drops every metadata block on save; options the caller gave come first. */
    char target[4096];
    size_t n = strlen(out_path);
    if (n > 0 && out_path[n - 1] == ']')
        snprintf(target, sizeof target, "%.*s,strip]", (int)(n - 1), out_path);
    else
        snprintf(target, sizeof target, "%s[strip]", out_path);
    int result = vips_image_write_to_file(upright, target, NULL);
    g_object_unref(upright);
    if (result != 0) {
        take_error(err, errlen, "save");
        return -1;
    }
    return 0;
}

int parley_vips_thumbnail(const char *path, int size, const char *out_path, char *err, size_t errlen) {
    VipsImage *thumb = NULL;
    /* A truncated or corrupt file is an error, not a half-grey picture. A smaller image is not
     * enlarged: blown up to the box, a 64x64 one cost a WebP of 200x200 (a thumbnail 20 ms
     * instead of 2) and came out blurred and larger than the image. */
    if (vips_thumbnail(path, &thumb, size, "height", size, "size", VIPS_SIZE_DOWN, "fail_on", VIPS_FAIL_ON_TRUNCATED, NULL) != 0) {
        take_error(err, errlen, "thumbnail");
        return -1;
    }
    char target[4096];
    snprintf(target, sizeof target, "%s[strip]", out_path);
    int result = vips_image_write_to_file(thumb, target, NULL);
    g_object_unref(thumb);
    if (result != 0) {
        take_error(err, errlen, "save");
        return -1;
    }
    return 0;
}
