"""Self-contained tasks: the maze (``maxrl.tasks.maze``) and vision-as-RL experiments."""
