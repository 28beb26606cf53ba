from perphedge.cli.app import main

main()
