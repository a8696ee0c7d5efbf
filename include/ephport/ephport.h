/* SPDX-License-Identifier: MIT */
/*
 * libephport: what a Linux host does with the port numbers it hands out by
 * itself. The library reads a network namespace's port policy and sockets,
 * analyses them and decides; it never prints, exits or aborts. See
 * libephport(3) and common.h for the conventions every module follows.
 *
 * Build against it with: pkg-config --cflags --libs libephport
 */
#ifndef EPHPORT_EPHPORT_H
#define EPHPORT_EPHPORT_H

#include "assignments.h"
#include "audit.h"
#include "change.h"
#include "common.h"
#include "ctx.h"
#include "diagnose.h"
#include "features.h"
#include "forecast.h"
#include "history.h"
#include "owners.h"
#include "pick.h"
#include "policy.h"
#include "portset.h"
#include "scan.h"
#include "services.h"
#include "snapshot.h"
#include "consumers.h"
#include "sysctld.h"
#include "textfile.h"
#include "trace.h"
#include "usage.h"

#endif
