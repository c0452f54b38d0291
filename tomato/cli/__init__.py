"""The command-line tools, each a process of the user's: `ketchup` (client of the service)
and `tomato` (runs the service, or asks it to stop or report). They load nothing of the
service; rendering is pure functions from replies to rich renderables."""
