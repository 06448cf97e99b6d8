#ifndef PARLEY_VIPS_H
#define PARLEY_VIPS_H

#include <stddef.h>

/* Non-variadic wrappers over libvips so that Swift never sees glib or varargs.
 * Every function that can fail returns -1 and copies libvips' message into err. */

/* Starts libvips once per process and allows only the loaders of the types Parley accepts
 * (JPEG, PNG, GIF, WebP, PDF): ImageMagick, SVG, HEIF and the rest stay blocked.
 * concurrency: libvips worker threads per operation (0 = libvips' default). */
int parley_vips_init(const char *argv0, int concurrency, char *err, size_t errlen);

/* Reads width and height of the first page, the number of pages (frames) and the EXIF
 * orientation (1 = upright) from the header, without decoding pixels: enough to refuse a
 * decompression bomb before it is decoded. */
int parley_vips_probe(const char *path, int *width, int *height, int *pages, int *orientation, char *err, size_t errlen);

/* Decodes the whole image (every frame when all_pages, to keep an animation), turns it upright
 * from its EXIF orientation (single pages), and writes it to out_path without metadata (EXIF,
 * GPS, XMP, IPTC, comments). out_path's suffix picks the format and may carry save options, as in
 * "x.jpg[Q=85]". A truncated or corrupt file is an error. */
int parley_vips_sanitize(const char *path, int all_pages, const char *out_path, char *err, size_t errlen);

/* Writes a thumbnail that fits size x size (aspect kept, auto-rotated, metadata stripped) to
 * out_path; the format follows out_path's suffix (".jpg", ".webp", ".png"). */
int parley_vips_thumbnail(const char *path, int size, const char *out_path, char *err, size_t errlen);

#endif
