/* cmds.h -- the subcommands of the marconi binary (sim/main.c dispatches).
 * Each takes argv from its own name on and returns the exit status:
 * 0 success, 2 usage or input error, 1 anything else. */
#ifndef MARCONI_CMDS_H
#define MARCONI_CMDS_H

int cmd_sim(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_sweep(int argc, char **argv);

#endif
