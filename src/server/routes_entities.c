/*
 * routes_entities.c - the HTTP routes for sources, destinations and
 * connections (CRUD, trigger, pause, resume). Being written: no routes yet.
 */
#include "server/http_int.h"

const struct route ferry_routes_entities[1];
const int ferry_nroutes_entities = 0;
