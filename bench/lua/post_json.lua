-- POST a JSON body: BENCH_BODY (environment), e.g. the credentials of a login.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
