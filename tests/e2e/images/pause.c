// The pod sandbox ("pause") process of the e2e cluster: containerd names an image for it and
// nothing can be pulled from outside here. It sleeps until asked to stop and reaps orphans, as
// the upstream pause does for pods that share the PID namespace.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void Stop(int signal_number) {
  (void)signal_number;
  _exit(0);
}

static void Reap(int signal_number) {
  (void)signal_number;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction stop = {.sa_handler = Stop};
  struct sigaction reap = {.sa_handler = Reap, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGINT, &stop, NULL);
  sigaction(SIGTERM, &stop, NULL);
  sigaction(SIGCHLD, &reap, NULL);
  for (;;) pause();
  return EXIT_SUCCESS;
}
