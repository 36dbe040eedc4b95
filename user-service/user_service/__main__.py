from user_service.cli import main

raise SystemExit(main())
