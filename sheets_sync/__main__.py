from sheets_sync.cli import main

raise SystemExit(main())
