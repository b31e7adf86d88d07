"""The `suanli` command line: a face of the API that talks to the server only through `suanli.client`."""
