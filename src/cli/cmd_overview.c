/* SPDX-License-Identifier: MIT */
/* ephport without a command: the host overview. */
#include "cli.h"
#include "json.h"

int cmd_overview(struct cli *cli, int argc, char **argv)
{
	struct eph_policy *p;
	int rc;

	(void)argc;
	(void)argv;
	rc = ranges_load(cli, &p);
	if (rc != EXIT_OK)
		return rc;
	if (cli->json) {
		struct json j;

		json_init(&j, stdout);
		json_obj(&j, NULL);
		json_str(&j, "netns", cli->netns);
		json_obj(&j, "ranges");
		ranges_json(p, &j, false);
		json_obj_end(&j);
		json_obj_end(&j);
		json_end(&j);
	} else {
		printf("ephport host overview%s%s%s\n\nPorts\n",
		       cli->netns ? " (netns " : "",
		       cli->netns ? cli->netns : "", cli->netns ? ")" : "");
		ranges_print_summary(p, stdout);
		ranges_print_warnings(p, stdout);
		printf("\nMore: 'ephport ranges' for TIME_WAIT settings and "
		       "other systems' ranges.\n");
	}
	eph_policy_free(p);
	return EXIT_OK;
}
