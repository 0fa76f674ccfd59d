/* assets.h — the WebUI's files (src/server/assets/), compiled into the binary by the build
 * (tools/embed_assets.c generates the table), so the server needs no install tree and no network. */
#ifndef ST_SERVER_ASSETS_H
#define ST_SERVER_ASSETS_H
#include <stddef.h>

typedef struct EmbeddedAsset {
    const char *path;          /* "/index.html", "/app.js", ... */
    const char *content_type;
    const unsigned char *data;
    size_t size;
} EmbeddedAsset;

extern const EmbeddedAsset SERVER_ASSETS[];   /* ends with a zeroed entry */
extern const int SERVER_ASSET_COUNT;

/* The asset at path, or NULL. */
const EmbeddedAsset *asset_find(const char *path);

#endif
