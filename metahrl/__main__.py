from metahrl.cli import main

raise SystemExit(main())
