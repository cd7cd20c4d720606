-- GET a page of the web UI with the session cookie (the login token is the session).
wrk.headers["Cookie"] = "rapport_session=" .. os.getenv("TOKEN")
