/* train_setup.h — the trainer's settings from a loaded SimpleTuner configuration. */
#ifndef ST_TRAIN_SETUP_H
#define ST_TRAIN_SETUP_H
#include "config/config.h"
#include "train/trainer.h"

/* Fills everything but max_train_steps when only num_train_epochs is given (the caller knows the
 * batches per epoch: see train_steps_from_epochs). Errors name the key (EXIT_USAGE). */
int trainer_config_from(const Config *c, TrainerConfig *t, Err *e);
/* SimpleTuner's rule: max_train_steps when > 0, else num_train_epochs × ⌈batches per epoch /
 * gradient_accumulation_steps⌉. */
int64_t train_steps_from_epochs(const Config *c, int batches_per_epoch);

#endif
