/* hfsync: keep folders on disk in sync with Hugging Face Hub repositories.
 * The public C API; the command-line tool uses only what this header offers. */
#ifndef HFSYNC_H
#define HFSYNC_H

#include "hfsync/common.h"
#include "hfsync/plan.h"
#include "hfsync/apply.h"
#include "hfsync/hub.h"
#include "hfsync/hubd.h"
#include "hfsync/manifest.h"

#endif
