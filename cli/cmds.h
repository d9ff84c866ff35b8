/* cmds.h -- the subcommands of the marconi binary (cli/main.c dispatches;
 * one file a subcommand, cli/cmd_NAME.c).  Each takes argv from its own
 * name on and returns the exit status (base/err.h): MU_EXIT_OK,
 * MU_EXIT_USAGE for a bad option, argument or input file, MU_EXIT_FAIL for
 * anything else. */
#ifndef MARCONI_CMDS_H
#define MARCONI_CMDS_H

int cmd_sim(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_explain(int argc, char **argv);

#endif
