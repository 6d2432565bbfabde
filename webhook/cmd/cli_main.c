/* `cellgate`: the command logic lives in cli/ so that tests can call it. */
#include <stdio.h>

#include "base/mem.h"
#include "cli/cli.h"

int main(int argc, char **argv)
{
    cg_mem_install_jansson();
    return cg_cli_run(argc, argv, stdin, stdout, stderr);
}
