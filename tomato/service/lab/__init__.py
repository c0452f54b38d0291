"""The instruments: device processes started, adopted, restarted, reloaded; their
components as the CLI and the web page see them."""
